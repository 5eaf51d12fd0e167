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

struct WireEntry: Decodable {
    let id: String?
    let changes: [Lossy<WireChange>]?
}

struct WireChange: Decodable {
    let field: String?
    /// Decoded only for `field == "messages"` (and echoes); other fields have other shapes.
    let value: WireValue?

    private enum CodingKeys: String, CodingKey { case field, value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        field = try container.decodeIfPresent(String.self, forKey: .field)
        value = field == "messages" || field == MessageEcho.field
            ? try container.decodeIfPresent(WireValue.self, forKey: .value) : nil
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

    let from: String?
    let from_user_id: String?
    let id: String
    let timestamp: FlexibleInt?
    let type: String?
    let context: Context?
    let referral: Referral?
    let group_id: String?
    let errors: [Lossy<WireError>]?

    let text: Text?
    let image: Media?
    let video: Media?
    let audio: Media?
    let document: Media?
    let sticker: Media?
    let location: Location?
    let contacts: [SharedContact]?
    let interactive: Interactive?
    let button: Button?
    let reaction: ReactionBody?
    let order: Order?
    let system: System?
    let unsupported: Unsupported?

    /// The whole message as JSON, kept only for types wabox does not know.
    let rawForUnknownType: JSONValue?

    private static let knownTypes: Set<String> = [
        "text", "image", "video", "audio", "document", "sticker", "location", "contacts",
        "interactive", "button", "reaction", "order", "system", "unsupported", "request_welcome",
    ]

    private enum CodingKeys: String, CodingKey {
        case from, from_user_id, id, timestamp, type, context, referral, group_id, errors
        case text, image, video, audio, document, sticker, location, contacts, interactive
        case button, reaction, order, system, unsupported
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        from = try c.decodeIfPresent(String.self, forKey: .from)
        from_user_id = try c.decodeIfPresent(String.self, forKey: .from_user_id)
        id = try c.decode(String.self, forKey: .id)
        timestamp = try c.decodeIfPresent(FlexibleInt.self, forKey: .timestamp)
        let type = try c.decodeIfPresent(String.self, forKey: .type)
        self.type = type
        context = try c.decodeIfPresent(Context.self, forKey: .context)
        referral = try c.decodeIfPresent(Referral.self, forKey: .referral)
        group_id = try c.decodeIfPresent(String.self, forKey: .group_id)
        errors = try c.decodeIfPresent([Lossy<WireError>].self, forKey: .errors)
        // Decode only the payload the type names: a stray field of another type must not
        // fail a message that is otherwise fine.
        func payload<T: Decodable>(_ key: CodingKeys) throws -> T? {
            type == key.stringValue ? try c.decodeIfPresent(T.self, forKey: key) : nil
        }
        text = try payload(.text)
        image = try payload(.image)
        video = try payload(.video)
        audio = try payload(.audio)
        document = try payload(.document)
        sticker = try payload(.sticker)
        location = try payload(.location)
        contacts = try payload(.contacts)
        interactive = try payload(.interactive)
        button = try payload(.button)
        reaction = try payload(.reaction)
        order = try payload(.order)
        system = try payload(.system)
        unsupported = try payload(.unsupported)
        if let type, !Self.knownTypes.contains(type) {
            rawForUnknownType = try JSONValue(from: decoder)
        } else {
            rawForUnknownType = nil
        }
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
