// MARK: - The webhook body as the Cloud API sends it
//
// Every field is optional: real payloads differ by API version and rollout, and a missing
// field must cost one message at most, never the batch. Arrays hold `Lossy` elements for
// the same reason.

/// An array element that either decoded or failed on its own, keeping the raw JSON.
enum Lossy<Value: Decodable>: Decodable {
    case value(Value)
    case failure(reason: String, raw: JSONValue?)

    init(from decoder: any Decoder) throws {
        do {
            self = .value(try Value(from: decoder))
        } catch {
            self = .failure(reason: describeDecodingError(error), raw: try? JSONValue(from: decoder))
        }
    }
}

/// A Unix timestamp that the Cloud API writes as a string and test tools as a number.
struct FlexibleInt: Decodable {
    let value: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            value = number
        } else if let double = try? container.decode(Double.self), double.isFinite,
                  let number = Int64(exactly: double.rounded(.down)) {
            value = number
        } else {
            let text = try container.decode(String.self)
            guard let number = Int64(text.trimmingCharacters(in: .whitespaces)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a whole number: \(text)")
            }
            value = number
        }
    }
}

/// A number that may be written as a string.
struct FlexibleDouble: Decodable {
    let value: Double

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            value = number
        } else {
            let text = try container.decode(String.self)
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a number: \(text)")
            }
            value = number
        }
    }
}

/// A boolean that tolerates `"true"` and `1`.
struct FlexibleBool: Decodable {
    let value: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let flag = try? container.decode(Bool.self) {
            value = flag
        } else if let number = try? container.decode(Int.self) {
            value = number != 0
        } else {
            value = (try container.decode(String.self)).lowercased() == "true"
        }
    }
}

struct WireEnvelope: Decodable {
    let object: String?
    let entry: [Lossy<WireEntry>]?
}

/// A string that some payloads write as a number (template ids).
struct FlexibleString: Decodable {
    let value: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else if let number = try? container.decode(Int64.self) {
            value = String(number)
        } else {
            value = String(try container.decode(Double.self))
        }
    }
}

/// One string or an array of them (`ban_info.waba_ban_state` comes both ways).
struct StringOrStrings: Decodable {
    let values: [String]

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            values = [text]
        } else {
            values = try container.decode([String].self)
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or nil when it is absent or of another shape: for fields whose
    /// oddity must not cost the part they belong to.
    func lenient<T: Decodable>(_ type: T.Type, _ key: Key) -> T? {
        (try? decodeIfPresent(type, forKey: key)) ?? nil
    }
}

struct WireEntry: Decodable {
    let id: String?
    /// Unix seconds, on changes that carry no time of their own (account and template updates).
    let time: FlexibleInt?
    let changes: [Lossy<WireChange>]?

    private enum CodingKeys: String, CodingKey { case id, time, changes }

    init(id: String?, time: FlexibleInt? = nil, changes: [Lossy<WireChange>]?) {
        self.id = id
        self.time = time
        self.changes = changes
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = container.lenient(FlexibleString.self, .id)?.value
        time = container.lenient(FlexibleInt.self, .time)
        changes = try container.decodeIfPresent([Lossy<WireChange>].self, forKey: .changes)
    }
}

struct WireChange: Decodable {
    /// The fields whose `value` has the shape of `WireValue`.
    static let valueFields: Set<String> = ["messages", "calls", "user_preferences", MessageEcho.field]
    /// The fields whose `value` has the shape of `WireUpdate`.
    static let updateFields: Set<String> = [
        "account_update", "message_template_status_update", "message_template_quality_update",
        "template_category_update", "message_template_components_update",
    ]

    let field: String?
    /// Decoded only for `valueFields`.
    let value: WireValue?
    /// Decoded only for `updateFields`.
    let update: WireUpdate?

    private enum CodingKeys: String, CodingKey { case field, value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        field = try container.decodeIfPresent(String.self, forKey: .field)
        let field = field ?? ""
        value = Self.valueFields.contains(field) ? try container.decodeIfPresent(WireValue.self, forKey: .value) : nil
        update = Self.updateFields.contains(field) ? try container.decodeIfPresent(WireUpdate.self, forKey: .value) : nil
    }
}

struct WireValue: Decodable {
    let metadata: WireMetadata?
    let contacts: [Lossy<WireContact>]?
    let messages: [Lossy<WireMessage>]?
    let statuses: [Lossy<WireStatus>]?
    let errors: [Lossy<WireError>]?
    /// `smb_message_echoes` only.
    var message_echoes: [Lossy<WireEcho>]? = nil
    /// `field: "calls"`.
    let calls: [Lossy<WireCall>]?
    /// `field: "user_preferences"`.
    let user_preferences: [Lossy<WirePreference>]?

    init(metadata: WireMetadata?, contacts: [Lossy<WireContact>]?, messages: [Lossy<WireMessage>]?,
         statuses: [Lossy<WireStatus>]?, errors: [Lossy<WireError>]?, calls: [Lossy<WireCall>]? = nil,
         user_preferences: [Lossy<WirePreference>]? = nil) {
        self.metadata = metadata
        self.contacts = contacts
        self.messages = messages
        self.statuses = statuses
        self.errors = errors
        self.calls = calls
        self.user_preferences = user_preferences
    }
}

/// One entry of `value.calls[]`: a call's connect or terminate.
struct WireCall: Decodable {
    let id: String
    let from: String?
    let to: String?
    let event: String?
    let direction: String?
    let timestamp: FlexibleInt?
    let status: String?
    let start_time: FlexibleInt?
    let end_time: FlexibleInt?
    let duration: FlexibleInt?

    private enum CodingKeys: String, CodingKey {
        case id, from, to, event, direction, timestamp, status, start_time, end_time, duration
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        from = c.lenient(String.self, .from)
        to = c.lenient(String.self, .to)
        event = c.lenient(String.self, .event)
        direction = c.lenient(String.self, .direction)
        timestamp = c.lenient(FlexibleInt.self, .timestamp)
        status = c.lenient(String.self, .status)
        start_time = c.lenient(FlexibleInt.self, .start_time)
        end_time = c.lenient(FlexibleInt.self, .end_time)
        duration = c.lenient(FlexibleInt.self, .duration)
    }
}

/// One entry of `value.user_preferences[]`.
struct WirePreference: Decodable {
    let wa_id: String?
    let user_id: String?
    let category: String?
    let value: String?
    let detail: String?
    let timestamp: FlexibleInt?

    private enum CodingKeys: String, CodingKey { case wa_id, user_id, category, value, detail, timestamp }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        wa_id = c.lenient(String.self, .wa_id)
        user_id = c.lenient(String.self, .user_id)
        category = c.lenient(String.self, .category)
        value = c.lenient(String.self, .value)
        detail = c.lenient(String.self, .detail)
        timestamp = c.lenient(FlexibleInt.self, .timestamp)
    }
}

/// The `value` of account and template updates: one flat object whose fields depend on
/// the `field` and `event`. Every field is read leniently.
struct WireUpdate: Decodable {
    struct Restriction: Decodable {
        let restriction_type: String?
        let expiration: FlexibleInt?

        private enum CodingKeys: String, CodingKey { case restriction_type, expiration }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            restriction_type = c.lenient(String.self, .restriction_type)
            expiration = c.lenient(FlexibleInt.self, .expiration)
        }
    }

    let event: String?
    let phone_number: String?
    let restriction_info: [Restriction]?
    let waba_ban_state: [String]?
    let waba_ban_date: String?
    let violation_type: String?
    let message_template_id: String?
    let message_template_name: String?
    let message_template_language: String?
    let message_template_category: String?
    let reason: String?
    let previous_quality_score: String?
    let new_quality_score: String?
    let previous_category: String?
    let new_category: String?

    private enum CodingKeys: String, CodingKey {
        case event, phone_number, restriction_info, ban_info, violation_info, message_template_id
        case message_template_name, message_template_language, message_template_category, reason
        case previous_quality_score, new_quality_score, previous_category, new_category, correct_category
    }

    private enum BanKeys: String, CodingKey { case waba_ban_state, waba_ban_date }
    private enum ViolationKeys: String, CodingKey { case violation_type }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        event = c.lenient(String.self, .event)
        phone_number = c.lenient(FlexibleString.self, .phone_number)?.value
        restriction_info = c.lenient([Lossy<Restriction>].self, .restriction_info)?.compactMap(\.value)
        let ban = try? c.nestedContainer(keyedBy: BanKeys.self, forKey: .ban_info)
        waba_ban_state = ban?.lenient(StringOrStrings.self, .waba_ban_state)?.values
        waba_ban_date = ban?.lenient(FlexibleString.self, .waba_ban_date)?.value
        violation_type = (try? c.nestedContainer(keyedBy: ViolationKeys.self, forKey: .violation_info))?
            .lenient(String.self, .violation_type)
        message_template_id = c.lenient(FlexibleString.self, .message_template_id)?.value
        message_template_name = c.lenient(String.self, .message_template_name)
        message_template_language = c.lenient(String.self, .message_template_language)
        message_template_category = c.lenient(String.self, .message_template_category)
        reason = c.lenient(String.self, .reason)
        previous_quality_score = c.lenient(String.self, .previous_quality_score)
        new_quality_score = c.lenient(String.self, .new_quality_score)
        previous_category = c.lenient(String.self, .previous_category)
        new_category = c.lenient(String.self, .new_category) ?? c.lenient(String.self, .correct_category)
    }
}

struct WireMetadata: Decodable {
    let display_phone_number: String?
    let phone_number_id: String?
}

struct WireContact: Decodable {
    struct Profile: Decodable {
        let name: String?
        let username: String?
    }

    let profile: Profile?
    let wa_id: String?
    let user_id: String?
    let parent_user_id: String?
}

struct WireError: Decodable {
    struct ErrorData: Decodable { let details: String? }

    let code: Int?
    let title: String?
    let message: String?
    let error_data: ErrorData?

    var detail: APIErrorDetail {
        APIErrorDetail(code: code, title: title, message: message, details: error_data?.details)
    }
}

struct WireStatus: Decodable {
    let id: String
    let status: String
    let timestamp: FlexibleInt?
    let recipient_id: String?
    let recipient_user_id: String?
    let biz_opaque_callback_data: String?
    let errors: [Lossy<WireError>]?
    /// `call` for a call's progress (`RINGING`, `ACCEPTED`, …); absent or `message` otherwise.
    let type: String?
}

struct WireMessage: Decodable {
    struct Text: Decodable { let body: String? }

    struct Media: Decodable {
        let id: String?
        let mime_type: String?
        let sha256: String?
        let caption: String?
        let filename: String?
        let url: String?
        let voice: FlexibleBool?
        let animated: FlexibleBool?
    }

    struct Location: Decodable {
        let latitude: FlexibleDouble
        let longitude: FlexibleDouble
        let name: String?
        let address: String?
        let url: String?
    }

    struct SharedContact: Decodable {
        struct Name: Decodable {
            let formatted_name: String?
            let first_name: String?
            let last_name: String?
        }
        struct Phone: Decodable {
            let phone: String?
            let wa_id: String?
            let type: String?
        }
        struct Email: Decodable { let email: String? }
        struct Org: Decodable { let company: String? }

        let name: Name?
        let phones: [Phone]?
        let emails: [Email]?
        let org: Org?
    }

    struct Interactive: Decodable {
        struct Reply: Decodable {
            let id: String?
            let title: String?
            let description: String?
        }
        struct FlowReply: Decodable {
            let name: String?
            let body: String?
            let response_json: String?
        }

        let type: String?
        let button_reply: Reply?
        let list_reply: Reply?
        let nfm_reply: FlowReply?
    }

    struct Button: Decodable {
        let payload: String?
        let text: String?
    }

    struct ReactionBody: Decodable {
        let message_id: String?
        let emoji: String?
    }

    struct Order: Decodable {
        struct Item: Decodable {
            let product_retailer_id: String?
            let quantity: FlexibleDouble?
            let item_price: FlexibleDouble?
            let currency: String?
        }
        let catalog_id: String?
        let text: String?
        let product_items: [Item]?
    }

    struct Unsupported: Decodable { let type: String? }

    struct System: Decodable {
        let body: String?
        let type: String?
        let wa_id: String?
        let new_wa_id: String?
        let user_id: String?
        let new_user_id: String?
    }

    struct Context: Decodable {
        struct Product: Decodable {
            let catalog_id: String?
            let product_retailer_id: String?
        }
        let from: String?
        let id: String?
        let forwarded: FlexibleBool?
        let frequently_forwarded: FlexibleBool?
        let referred_product: Product?
    }

    struct Referral: Decodable {
        let source_url: String?
        let source_id: String?
        let source_type: String?
        let headline: String?
        let body: String?
        let media_type: String?
        let ctwa_clid: String?
    }

    /// A class: its content holds an optional edit in turn, which a struct cannot.
    final class Edit: Decodable {
        let original_message_id: String?
        /// The new content: `type` and the payload it names, as in a message.
        let message: WireContent?
    }

    struct Revoke: Decodable {
        let original_message_id: String?
    }

    let from: String?
    let from_user_id: String?
    let id: String
    let timestamp: FlexibleInt?
    let context: Context?
    let referral: Referral?
    let group_id: String?
    let errors: [Lossy<WireError>]?
    /// The type and the payload it names.
    let content: WireContent

    var type: String? { content.type }

    private enum CodingKeys: String, CodingKey {
        case from, from_user_id, id, timestamp, context, referral, group_id, errors
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        // Only the id is required; anything else odd costs that field, never the message.
        from = c.lenient(String.self, .from)
        from_user_id = c.lenient(String.self, .from_user_id)
        timestamp = c.lenient(FlexibleInt.self, .timestamp)
        context = c.lenient(Context.self, .context)
        referral = c.lenient(Referral.self, .referral)
        group_id = c.lenient(String.self, .group_id)
        errors = c.lenient([Lossy<WireError>].self, .errors)
        content = try WireContent(from: decoder)
    }
}

/// A message's `type` and the payload that type names (also the new content of an edit).
///
/// A payload that is missing or malformed does not fail the message: `problem` says what
/// was wrong and `raw` keeps the whole object, and the message is kept as unreadable.
struct WireContent: Decodable {
    let type: String?
    let text: WireMessage.Text?
    let image: WireMessage.Media?
    let video: WireMessage.Media?
    let audio: WireMessage.Media?
    let document: WireMessage.Media?
    let sticker: WireMessage.Media?
    let location: WireMessage.Location?
    let contacts: [WireMessage.SharedContact]?
    let interactive: WireMessage.Interactive?
    let button: WireMessage.Button?
    let reaction: WireMessage.ReactionBody?
    let order: WireMessage.Order?
    let system: WireMessage.System?
    let unsupported: WireMessage.Unsupported?
    let edit: WireMessage.Edit?
    let revoke: WireMessage.Revoke?
    /// Why the payload the type names could not be read, if it could not.
    let problem: String?
    /// The whole object as JSON, kept for types wabox does not know and unreadable payloads.
    let raw: JSONValue?

    /// Types whose payload is an object named after them.
    static let payloadTypes: Set<String> = [
        "text", "image", "video", "audio", "document", "sticker", "location", "contacts",
        "interactive", "button", "reaction", "order", "system", "edit", "revoke",
    ]
    /// Types that may come without a payload.
    static let bareTypes: Set<String> = ["unsupported", "request_welcome"]

    private enum CodingKeys: String, CodingKey {
        case type
        case text, image, video, audio, document, sticker, location, contacts, interactive
        case button, reaction, order, system, unsupported, edit, revoke
    }

    init(type: String?, text: WireMessage.Text?) {
        self.type = type
        self.text = text
        image = nil
        video = nil
        audio = nil
        document = nil
        sticker = nil
        location = nil
        contacts = nil
        interactive = nil
        button = nil
        reaction = nil
        order = nil
        system = nil
        unsupported = nil
        edit = nil
        revoke = nil
        problem = nil
        raw = nil
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let type = c.lenient(String.self, .type)
        self.type = type
        var problem: String?
        // Decode only the payload the type names: a stray field of another type must not
        // fail a message that is otherwise fine.
        func payload<T: Decodable>(_ key: CodingKeys) -> T? {
            guard type == key.stringValue else { return nil }
            do {
                guard let value = try c.decodeIfPresent(T.self, forKey: key) else {
                    problem = "the \(key.stringValue) message has no \(key.stringValue) object"
                    return nil
                }
                return value
            } catch {
                problem = "its \(key.stringValue) object could not be read: \(describeDecodingError(error))"
                return nil
            }
        }
        text = payload(.text)
        image = payload(.image)
        video = payload(.video)
        audio = payload(.audio)
        document = payload(.document)
        sticker = payload(.sticker)
        location = payload(.location)
        contacts = payload(.contacts)
        interactive = payload(.interactive)
        button = payload(.button)
        reaction = payload(.reaction)
        order = payload(.order)
        system = payload(.system)
        edit = payload(.edit)
        revoke = payload(.revoke)
        unsupported = type == "unsupported" ? c.lenient(WireMessage.Unsupported.self, .unsupported) : nil
        if type == nil { problem = "it has no type" }
        // Payloads that are objects yet lack what makes them usable.
        if problem == nil {
            switch type {
            case "reaction" where reaction?.message_id.nonEmpty == nil: problem = "the reaction names no message_id"
            case "edit" where edit?.original_message_id.nonEmpty == nil: problem = "the edit names no original_message_id"
            case "edit" where edit?.message == nil: problem = "the edit carries no new message"
            case "revoke" where revoke?.original_message_id.nonEmpty == nil:
                problem = "the deletion names no original_message_id"
            default: break
            }
        }
        self.problem = problem
        let known = type.map { Self.payloadTypes.contains($0) || Self.bareTypes.contains($0) } ?? false
        raw = problem != nil || !known ? (try? JSONValue(from: decoder)) : nil
    }
}

/// A short, readable account of why decoding failed, with the path to the bad field.
func describeDecodingError(_ error: any Error) -> String {
    func path(_ codingPath: [any CodingKey]) -> String {
        let parts = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }
        let joined = parts.joined()
        return joined.hasPrefix(".") ? String(joined.dropFirst()) : (joined.isEmpty ? "(top)" : joined)
    }
    guard let error = error as? DecodingError else { return String(describing: error) }
    switch error {
    case .keyNotFound(let key, let context):
        return "missing field \(path(context.codingPath + [key]))"
    case .typeMismatch(let type, let context):
        return "\(path(context.codingPath)) is not \(type)"
    case .valueNotFound(let type, let context):
        return "\(path(context.codingPath)) is null, expected \(type)"
    case .dataCorrupted(let context):
        return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return String(describing: error)
    }
}

import Foundation
