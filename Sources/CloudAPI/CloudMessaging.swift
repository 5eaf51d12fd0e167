import Foundation
import InboxCore

/// Speaking to the WhatsApp Cloud API: send, mark as read, templates, media.
///
/// `GraphCloudClient` is the real one over HTTP; tests point it at the `Simulator`'s fake.
public protocol CloudMessaging: Sendable {
    /// Sends one message from the business number `phoneNumberID`. Returns once the Cloud
    /// API accepted it (not yet delivered).
    func send(_ message: OutboundMessage, from phoneNumberID: PhoneNumberID) async throws(CloudFailure) -> SendReceipt

    /// Marks a customer's message read (blue ticks), with "typing…" shown for up to 25 s
    /// when `typing` is set.
    func markRead(_ message: MessageID, from phoneNumberID: PhoneNumberID, typing: Bool) async throws(CloudFailure)

    /// The account's approved templates (`GET /{waba-id}/message_templates`).
    func approvedTemplates(of account: String) async throws(CloudFailure) -> [MessageTemplate]

    /// The business phone number (`GET /{phone-number-id}`): proves the token and the id,
    /// and tells the number's quality rating.
    func phoneNumber(_ id: PhoneNumberID) async throws(CloudFailure) -> PhoneNumberInfo

    /// Uploads a file to send (`POST /{phone-number-id}/media`, multipart); returns the
    /// media id to send it by, usable for 30 days.
    func uploadMedia(_ bytes: Data, mimeType: String, filename: String?, from phoneNumberID: PhoneNumberID)
        async throws(CloudFailure) -> String

    /// The metadata of an uploaded or received media item; its `url` is valid for minutes.
    func mediaInfo(_ mediaID: String) async throws(CloudFailure) -> MediaInfo

    /// The bytes at a media `url` from `mediaInfo`.
    func downloadMedia(_ info: MediaInfo, maxBytes: Int) async throws(CloudFailure) -> Data
}

/// The Cloud API accepted a message.
public struct SendReceipt: Sendable, Hashable {
    public var wamid: MessageID
    /// The wa_id WhatsApp resolved the recipient to, when it said.
    public var waID: WaID?
    /// The answer's `message_status`, when it gave one (`accepted`, `held_for_quality_assessment`).
    public var messageStatus: String? = nil

    /// WhatsApp holds the message (a template) for a quality review before sending it.
    public var isHeldForQualityReview: Bool { messageStatus == "held_for_quality_assessment" }
}

/// A template as listed by `GET /{waba-id}/message_templates`.
public struct MessageTemplate: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String
    public var language: String
    public var status: String
    public var category: String?
    public var components: [Component]?
    /// The listing's `quality_score`, when it gives one.
    public var qualityScore: QualityScore?

    /// `{"score": "GREEN" | "YELLOW" | "RED" | "UNKNOWN"}`.
    public struct QualityScore: Sendable, Hashable, Codable {
        public var score: String?
        public init(score: String?) { self.score = score }
    }

    /// `GREEN`, `YELLOW`, `RED`, or nil when unknown.
    public var quality: String? {
        get { qualityScore?.score.flatMap { $0.uppercased() == "UNKNOWN" ? nil : $0.uppercased() } }
        set { qualityScore = newValue.map { QualityScore(score: $0) } }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, language, status, category, components
        case qualityScore = "quality_score"
    }

    public struct Component: Sendable, Hashable, Codable {
        public var type: String
        public var format: String?
        public var text: String?
        public init(type: String, format: String? = nil, text: String? = nil) {
            self.type = type
            self.format = format
            self.text = text
        }
    }

    public init(id: String?, name: String, language: String, status: String, category: String?,
                components: [Component]?, quality: String? = nil) {
        self.id = id
        self.name = name
        self.language = language
        self.status = status
        self.category = category
        self.components = components
        self.quality = quality
    }

    /// How many `{{…}}` placeholders the body has: the parameters to fill in.
    public var bodyParameterCount: Int {
        guard let text = components?.first(where: { $0.type.uppercased() == "BODY" })?.text else { return 0 }
        var names = Set<Substring>()
        var rest = text[...]
        while let open = rest.range(of: "{{"), let close = rest[open.upperBound...].range(of: "}}") {
            names.insert(rest[open.upperBound..<close.lowerBound])
            rest = rest[close.upperBound...]
        }
        return names.count
    }
}

/// `GET /{phone-number-id}?fields=verified_name,display_phone_number,quality_rating`.
public struct PhoneNumberInfo: Sendable, Hashable, Decodable {
    public var verifiedName: String?
    public var displayPhoneNumber: String?
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    public var qualityRating: String?

    public init(verifiedName: String?, displayPhoneNumber: String?, qualityRating: String?) {
        self.verifiedName = verifiedName
        self.displayPhoneNumber = displayPhoneNumber
        self.qualityRating = qualityRating
    }

    enum CodingKeys: String, CodingKey {
        case verifiedName = "verified_name"
        case displayPhoneNumber = "display_phone_number"
        case qualityRating = "quality_rating"
    }
}

/// `GET /{media-id}`: `{url, mime_type, sha256, file_size, id}`.
public struct MediaInfo: Sendable, Hashable, Codable {
    public var id: String
    public var url: String
    public var mimeType: String?
    public var sha256: String?
    public var fileSize: Int?

    public init(id: String, url: String, mimeType: String?, sha256: String?, fileSize: Int?) {
        self.id = id
        self.url = url
        self.mimeType = mimeType
        self.sha256 = sha256
        self.fileSize = fileSize
    }

    enum CodingKeys: String, CodingKey {
        case id, url, sha256
        case mimeType = "mime_type"
        case fileSize = "file_size"
    }
}

/// Why a Cloud API call did not succeed.
public enum CloudFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The API answered with a documented error body.
    case api(CloudAPIError)
    /// A 5xx (or other non-2xx) answer without an error body.
    case http(status: Int, snippet: String)
    /// No answer. Its `requestMayHaveArrived` is false when the connection was never made,
    /// so a retry cannot send the message twice.
    case network(TransportFailure)
    /// A 2xx answer that is not what the API documents.
    case invalidResponse(String)
    /// The answer's body was longer than the caller takes (`limit` bytes); reading stopped there.
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .api(let error): error.description
        case .http(let status, let snippet):
            "the Cloud API answered HTTP \(status)" + (snippet.isEmpty ? "" : ": \(snippet)")
        case .network(let failure):
            failure.requestMayHaveArrived
                ? "no answer from the Cloud API (\(failure)); the message may or may not have been sent"
                : "cannot reach the Cloud API (\(failure)): check WABOX_GRAPH_URL and the network"
        case .invalidResponse(let reason): "unexpected answer from the Cloud API: \(reason)"
        case .tooLarge(let limit): "the answer is larger than \(limit) bytes"
        }
    }
}
