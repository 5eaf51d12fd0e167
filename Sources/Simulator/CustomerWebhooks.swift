import Crypto
import Foundation
import InboxCore

/// A simulated WhatsApp user writing to the business.
public struct SimulatedCustomer: Sendable, Hashable {
    /// The profile name; nil for a customer who set none.
    public var name: String?
    /// The phone number; nil for a customer known only by username.
    public var waID: String?
    public var userID: String
    public var username: String?

    public init(name: String?, waID: String?, userID: String? = nil, username: String? = nil) {
        self.name = name
        self.waID = waID
        self.userID = userID ?? waID.map(Self.userID(forWaID:)) ?? "US.\(username ?? "0")"
        self.username = username
    }

    /// The business-scoped user id a simulated customer with this phone number has, unless
    /// given another: the fake Cloud API names the same one on its status webhooks.
    public static func userID(forWaID waID: String) -> String { "US.\(waID)" }
}

/// A customer's file with its bytes: the webhook names it by id and SHA-256, and
/// `FakeCloudAPI.addMedia` serves the bytes.
public struct SimulatedFile: Sendable, Hashable {
    public var kind: MediaAttachment.Kind
    public var id: String
    public var mimeType: String
    public var bytes: Data
    public var caption: String?
    public var filename: String?

    public init(kind: MediaAttachment.Kind, id: String, mimeType: String, bytes: Data, caption: String? = nil,
                filename: String? = nil) {
        self.kind = kind
        self.id = id
        self.mimeType = mimeType
        self.bytes = bytes
        self.caption = caption
        self.filename = filename
    }

    /// The digest as webhooks carry it: base64.
    public var sha256: String { Data(SHA256.hash(data: bytes)).base64EncodedString() }
}

extension SimulatedCustomer {
    /// A business-scoped user id looks like `US.13491208655302741918`.
    public static func isUserID(_ text: String) -> Bool {
        guard let dot = text.firstIndex(of: ".") else { return false }
        return !text[..<dot].isEmpty && text[..<dot].allSatisfy(\.isLetter) && text[text.index(after: dot)...].allSatisfy(\.isNumber)
    }

    /// The customer `wabox simulate --from` names: a phone number (`+` allowed) or a user id.
    public init(from: String, name: String, username: String?) {
        let isUser = Self.isUserID(from)
        self.init(name: name.isEmpty ? nil : name, waID: isUser ? nil : (from.hasPrefix("+") ? String(from.dropFirst()) : from),
                  userID: isUser ? from : nil, username: username)
    }
}

/// The bodies of a run of `wabox simulate`: one preset built afresh per request (a burst
/// of texts numbered so that each can be told apart on screen), a status, or a file's
/// bytes posted as they are.
public struct SimulatedBodies: Sendable {
    public let body: @Sendable (Int) -> Data
    /// What is posted, in words: the first message's id, so that a later `--reply-to` or
    /// reaction can name it.
    public let summary: String

    public init(body: @escaping @Sendable (Int) -> Data, summary: String) {
        self.body = body
        self.summary = summary
    }

    /// Why a file cannot be posted.
    public struct FileProblem: Error, CustomStringConvertible {
        public var description: String
    }

    /// The exact bytes of the file at `path` (`-`: standard input), posted as they are.
    public static func file(_ path: String) throws(FileProblem) -> SimulatedBodies {
        let data: Data
        do {
            data = path == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FileProblem(description: "cannot read --file \(path): \(error.localizedDescription)")
        }
        guard !data.isEmpty else { throw FileProblem(description: "--file \(path) is empty: give a webhook body (JSON)") }
        return SimulatedBodies(body: { _ in data }, summary: "\(path == "-" ? "standard input" : path) (\(data.count) bytes)")
    }

    public static func status(_ status: DeliveryStatus, of id: String, to customer: SimulatedCustomer, errorCode: Int?,
                              builder: WebhookBuilder) -> SimulatedBodies {
        SimulatedBodies(body: { _ in builder.status(status, of: id, to: customer, errorCode: errorCode) },
                        summary: "status \(status.rawValue) of \(id) for \(customer.waID ?? customer.userID)")
    }

    /// `count` messages of the preset `type`; nil when there is no such preset.
    public static func messages(_ type: String, text: String?, reactTo: String?, replyTo: String?,
                                from customer: SimulatedCustomer, count: Int, builder: WebhookBuilder) -> SimulatedBodies? {
        guard SimulatedMessage.preset(type, text: text, reactTo: reactTo) != nil else { return nil }
        let firstID = WebhookBuilder.newMessageID()
        let sender = "\(customer.waID.map { "+" + $0 } ?? customer.userID)\(customer.name.map { " (\($0))" } ?? "")"
        return SimulatedBodies(body: { index in
            let numbered = type == "text" && count > 1 ? "\(text ?? "Hello from wabox simulate") \(index + 1)/\(count)" : text
            let message = SimulatedMessage.preset(type, text: numbered, reactTo: reactTo)!
            return builder.message(from: customer, message, id: index == 0 ? firstID : WebhookBuilder.newMessageID(),
                                   replyTo: replyTo)
        }, summary: count == 1 ? "\(type) message \(firstID) from \(sender)" : "\(type) message from \(sender)")
    }
}

/// What a simulated customer sends.
public enum SimulatedMessage: Sendable, Hashable {
    case text(String)
    case image(caption: String?)
    case video(caption: String?)
    case voiceNote
    case audio
    case document(filename: String, caption: String?)
    case sticker
    case location(latitude: Double, longitude: Double, name: String?, address: String?)
    case contacts(name: String, phone: String)
    /// A quick-reply button under a template.
    case button(text: String, payload: String)
    /// A reply button or list row of an interactive message.
    case buttonReply(id: String, title: String)
    case listReply(id: String, title: String, description: String?)
    case reaction(to: String, emoji: String)
    case order(items: Int)
    /// A type WhatsApp does not pass on (a poll, say): `type` is `unsupported`.
    case unsupported
    /// The customer opened the chat for the first time.
    case requestWelcome
    /// A file whose bytes the fake Cloud API holds under `file.id`, so that it downloads.
    case file(SimulatedFile)

    /// A tap on a template's quick-reply button, a reply button or a list row: it always
    /// answers a message the business sent (`context`).
    public var answersBusinessMessage: Bool {
        switch self {
        case .button, .buttonReply, .listReply: true
        default: false
        }
    }

    /// The `--type` names of `wabox simulate`.
    public static let presetNames = ["text", "image", "video", "voice", "audio", "document", "sticker", "location",
                                     "contacts", "button", "interactive", "list", "reaction", "order", "unsupported",
                                     "request_welcome"]

    /// A typical message of a `--type`; `text` and `reactTo` fill in where the type needs them.
    public static func preset(_ name: String, text: String?, reactTo: String?) -> SimulatedMessage? {
        switch name {
        case "text": .text(text ?? "Hello from wabox simulate")
        case "image": .image(caption: text ?? "A photo of the parcel")
        case "video": .video(caption: text)
        case "voice": .voiceNote
        case "audio": .audio
        case "document": .document(filename: "invoice-1042.pdf", caption: text)
        case "sticker": .sticker
        case "location": .location(latitude: 52.520008, longitude: 13.404954, name: text ?? "Alexanderplatz",
                                   address: "Alexanderplatz, 10178 Berlin")
        case "contacts": .contacts(name: text ?? "Ana Lima", phone: "+5511987654321")
        case "button": .button(text: text ?? "Yes, confirm", payload: "CONFIRM")
        case "interactive": .buttonReply(id: "track-order", title: text ?? "Track my order")
        case "list": .listReply(id: "slot-2", title: text ?? "Tuesday 14:00", description: "Afternoon delivery")
        case "reaction": .reaction(to: reactTo ?? "wamid.unknown", emoji: text ?? "👍")
        case "order": .order(items: 3)
        case "unsupported": .unsupported
        case "request_welcome": .requestWelcome
        default: nil
        }
    }
}

/// Builds webhook bodies shaped as the Cloud API sends them, for one business number.
public struct WebhookBuilder: Sendable {
    public var phoneNumberID: String
    public var displayPhoneNumber: String
    public var wabaID: String

    public init(phoneNumberID: String = "106540352242922", displayPhoneNumber: String = "15550783881",
                wabaID: String = "102290129340398") {
        self.phoneNumberID = phoneNumberID
        self.displayPhoneNumber = displayPhoneNumber
        self.wabaID = wabaID
    }

    /// A message webhook in the current shape: `contacts[]` with the customer's `user_id`,
    /// `from_user_id` beside `from`. `id` defaults to a fresh `wamid.`; `replyTo` quotes an
    /// earlier message. A reply to buttons or a list (`button`, `buttonReply`, `listReply`)
    /// always answers a business message, as Meta's do: without `replyTo` it names a
    /// generated one.
    public func message(from customer: SimulatedCustomer, _ message: SimulatedMessage, id: String = newMessageID(),
                        timestamp: Int64 = Int64(Date().timeIntervalSince1970), replyTo: String? = nil) -> Data {
        var contact: [String: Any] = ["user_id": customer.userID]
        var profile: [String: Any] = [:]
        if let name = customer.name { profile["name"] = name }
        if let username = customer.username { profile["username"] = username }
        if !profile.isEmpty { contact["profile"] = profile }
        if let waID = customer.waID { contact["wa_id"] = waID }
        var body: [String: Any] = ["id": id, "timestamp": String(timestamp), "from_user_id": customer.userID]
        if let waID = customer.waID { body["from"] = waID }
        if let answered = replyTo ?? (message.answersBusinessMessage ? Self.newBusinessMessageID() : nil) {
            body["context"] = ["from": displayPhoneNumber, "id": answered]
        }
        let (type, content) = Self.content(of: message)
        body["type"] = type
        if let content { body[type] = content }
        if case .unsupported = message {
            body["errors"] = [["code": 131051, "title": "Message type unknown",
                               "message": "Message type unknown",
                               "error_data": ["details": "Message type is currently not supported."]]]
            body["unsupported"] = ["type": "poll"]
        }
        return envelope(["contacts": [contact], "messages": [body]])
    }

    private func envelope(_ value: [String: Any]) -> Data {
        var value = value
        value["messaging_product"] = "whatsapp"
        value["metadata"] = ["display_phone_number": displayPhoneNumber, "phone_number_id": phoneNumberID]
        let object: [String: Any] = [
            "object": "whatsapp_business_account",
            "entry": [["id": wabaID, "changes": [["field": "messages", "value": value]]]],
        ]
        // Only strings, numbers, arrays and dictionaries: serialisation cannot fail.
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    public static func newMessageID() -> String {
        let bytes = (0..<18).map { _ in UInt8.random(in: 0...255) }
        return "wamid.IN" + Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "+", with: "-")
    }

    /// A fresh id in the shape of a message the business sent.
    public static func newBusinessMessageID() -> String {
        "wamid.OUT" + newMessageID().dropFirst("wamid.IN".count)
    }

    private static func mediaID() -> String { String(UInt64.random(in: 1_000_000_000...9_999_999_999)) }

    static func content(of message: SimulatedMessage) -> (String, Any?) {
        switch message {
        case .text(let body):
            return ("text", ["body": body])
        case .image(let caption):
            var image: [String: Any] = ["id": mediaID(), "mime_type": "image/jpeg", "sha256": "c2ltdWxhdGVk"]
            if let caption { image["caption"] = caption }
            return ("image", image)
        case .video(let caption):
            var video: [String: Any] = ["id": mediaID(), "mime_type": "video/mp4", "sha256": "c2ltdWxhdGVk"]
            if let caption { video["caption"] = caption }
            return ("video", video)
        case .voiceNote:
            return ("audio", ["id": mediaID(), "mime_type": "audio/ogg; codecs=opus", "sha256": "c2ltdWxhdGVk", "voice": true])
        case .audio:
            return ("audio", ["id": mediaID(), "mime_type": "audio/mpeg", "sha256": "c2ltdWxhdGVk", "voice": false])
        case .document(let filename, let caption):
            var document: [String: Any] = ["id": mediaID(), "mime_type": "application/pdf", "sha256": "c2ltdWxhdGVk",
                                           "filename": filename]
            if let caption { document["caption"] = caption }
            return ("document", document)
        case .sticker:
            return ("sticker", ["id": mediaID(), "mime_type": "image/webp", "sha256": "c2ltdWxhdGVk", "animated": false])
        case .file(let file):
            var media: [String: Any] = ["id": file.id, "mime_type": file.mimeType, "sha256": file.sha256]
            if let caption = file.caption, file.kind != .sticker, file.kind != .voice { media["caption"] = caption }
            if let filename = file.filename, file.kind == .document { media["filename"] = filename }
            if file.kind == .voice || file.kind == .audio { media["voice"] = file.kind == .voice }
            return (file.kind.typeName, media)
        case .location(let latitude, let longitude, let name, let address):
            var location: [String: Any] = ["latitude": latitude, "longitude": longitude]
            if let name { location["name"] = name }
            if let address { location["address"] = address }
            return ("location", location)
        case .contacts(let name, let phone):
            return ("contacts", [["name": ["formatted_name": name, "first_name": name],
                                  "phones": [["phone": phone, "type": "CELL"]]]])
        case .button(let text, let payload):
            return ("button", ["text": text, "payload": payload])
        case .buttonReply(let id, let title):
            return ("interactive", ["type": "button_reply", "button_reply": ["id": id, "title": title]])
        case .listReply(let id, let title, let description):
            var row: [String: Any] = ["id": id, "title": title]
            if let description { row["description"] = description }
            return ("interactive", ["type": "list_reply", "list_reply": row])
        case .reaction(let target, let emoji):
            return ("reaction", ["message_id": target, "emoji": emoji])
        case .order(let items):
            let products = (0..<max(1, items)).map { index -> [String: Any] in
                ["product_retailer_id": "SKU-\(100 + index)", "quantity": 1, "item_price": 19.9, "currency": "EUR"]
            }
            return ("order", ["catalog_id": "4509283746", "text": "Please deliver soon", "product_items": products])
        case .unsupported:
            return ("unsupported", nil)
        case .requestWelcome:
            return ("request_welcome", nil)
        }
    }
}
