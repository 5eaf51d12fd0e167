import Foundation
import Hummingbird
import InboxCore

extension FakeCloudAPI {
    /// A business phone number as `GET /{version}/{phone-number-id}` describes it.
    public struct PhoneNumber: Sendable, Hashable, Encodable {
        public var id: String
        /// As Meta formats it: `+1 555-078-3881`.
        public var displayPhoneNumber: String
        /// The business name WhatsApp shows, once approved.
        public var verifiedName: String
        /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
        public var qualityRating: String

        public init(id: String, displayPhoneNumber: String, verifiedName: String, qualityRating: String = "GREEN") {
            self.id = id
            self.displayPhoneNumber = displayPhoneNumber
            self.verifiedName = verifiedName
            self.qualityRating = qualityRating
        }

        /// The number `WebhookBuilder` writes webhooks for by default; the fake knows it from the start.
        public static let standard = PhoneNumber(id: WebhookBuilder().phoneNumberID, displayPhoneNumber: "+1 555-078-3881",
                                                 verifiedName: "wabox Test Shop")

        enum CodingKeys: String, CodingKey {
            case id
            case displayPhoneNumber = "display_phone_number"
            case verifiedName = "verified_name"
            case qualityRating = "quality_rating"
        }
    }

    /// Makes `GET /{version}/{number.id}` answer with `number`.
    public func addPhoneNumber(_ number: PhoneNumber) {
        state.withLock { $0.phoneNumbers[number.id] = number }
    }

    /// The phone number object, or the documented 190 error for a token the fake does not accept.
    func phoneNumber(_ request: Request, id: String) async throws -> Response {
        let recorded = try await record(request)
        guard authorized(recorded) else { return Self.error(.badToken) }
        guard let number = state.withLock({ $0.phoneNumbers[id] }) else {
            return Self.error(.invalidParameter, details: "Unsupported get request. Object with ID '\(id)' does not exist")
        }
        return Self.json(.ok, String(decoding: try CloudJSON.encode(number), as: UTF8.self))
    }
}
