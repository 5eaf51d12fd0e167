import Foundation

/// Turns a webhook body into `InboxEvent`s.
///
/// Decoding is lenient part by part: a malformed message, status or change becomes a
/// `.malformed` event and the rest of the batch is decoded as usual. Only a body that is
/// not a JSON object at all throws.
public struct WebhookDecoder: Sendable {
    public init() {}

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The deepest nesting of arrays and objects accepted. Real webhooks nest about ten
    /// levels; the limit keeps a hostile body from exhausting the stack of a recursive
    /// decoder (`JSONDecoder`, `JSONValue`) on the event loop.
    public static let maximumDepth = 64

    /// - Parameter receivedAt: Unix seconds, used for parts that carry no timestamp.
    public func decode(_ body: Data, receivedAt: Int64) throws(Failure) -> [InboxEvent] {
        if let envelope = WireFastReader.envelope(from: body) {
            return events(from: envelope, receivedAt: receivedAt)
        }
        try Self.checkShape(body)
        return events(from: try foundationEnvelope(body), receivedAt: receivedAt)
    }

    /// Refuses what no webhook is and what recursive decoders must never see: invalid
    /// UTF-8, and arrays or objects nested deeper than `maximumDepth`. One pass over the
    /// bytes, without recursion, so that any size and depth is safe to check.
    static func checkShape(_ body: Data) throws(Failure) {
        var depth = 0
        var inString = false
        var escaped = false
        var offset = 0
        for byte in body {
            defer { offset += 1 }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth {
                    throw Failure(description: "body nests arrays or objects deeper than \(maximumDepth) levels (at byte \(offset)); no webhook does")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        if String(validating: body, as: UTF8.self) == nil {
            throw Failure(description: "body is not valid UTF-8; webhooks are UTF-8 JSON")
        }
    }

    private func events(from envelope: WireEnvelope, receivedAt: Int64) -> [InboxEvent] {
        guard envelope.object == "whatsapp_business_account" else {
            return [.ignored(reason: "object \(envelope.object.map { "\"\($0)\"" } ?? "missing")")]
        }
        var events: [InboxEvent] = []
        for (entryIndex, entry) in (envelope.entry ?? []).enumerated() {
            let entryPath = "entry[\(entryIndex)]"
            switch entry {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: entryPath, reason: reason, rawJSON: raw?.jsonText)))
            case .value(let entry):
                for (changeIndex, change) in (entry.changes ?? []).enumerated() {
                    let changePath = "\(entryPath).changes[\(changeIndex)]"
                    switch change {
                    case .failure(let reason, let raw):
                        events.append(.malformed(MalformedPart(path: changePath, reason: reason, rawJSON: raw?.jsonText)))
                    case .value(let change):
                        if change.field == MessageEcho.field {
                            decodeEchoes(change.value, path: "\(changePath).value", receivedAt: receivedAt, into: &events)
                            continue
                        }
                        guard change.field == "messages" else {
                            events.append(.ignored(reason: "field \(change.field.map { "\"\($0)\"" } ?? "missing")"))
                            continue
                        }
                        guard let value = change.value else { continue }
                        decode(value, path: "\(changePath).value", receivedAt: receivedAt, into: &events)
                    }
                }
            }
        }
        return events
    }

    /// The reference reading of a body, for everything `WireFastReader` leaves aside.
    func foundationEnvelope(_ body: Data) throws(Failure) -> WireEnvelope {
        do {
            return try JSONDecoder().decode(WireEnvelope.self, from: body)
        } catch {
            throw Failure(description: "body is not a webhook JSON object: \(describeDecodingError(error))")
        }
    }

    /// Decodes with `JSONDecoder` only, never the fast reader: the reference the tests
    /// compare the fast reader with.
    func decodeWithFoundation(_ body: Data, receivedAt: Int64) throws(Failure) -> [InboxEvent] {
        try Self.checkShape(body)
        return try events(from: foundationEnvelope(body), receivedAt: receivedAt)
    }

    private func decode(_ value: WireValue, path: String, receivedAt: Int64, into events: inout [InboxEvent]) {
        let business = BusinessNumber(
            phoneNumberID: PhoneNumberID(value.metadata?.phone_number_id.nonEmpty ?? "unknown"),
            displayPhoneNumber: value.metadata?.display_phone_number.nonEmpty
        )
        var contacts: [WireContact] = []
        for (index, contact) in (value.contacts ?? []).enumerated() {
            switch contact {
            case .value(let contact): contacts.append(contact)
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: "\(path).contacts[\(index)]", reason: reason, rawJSON: raw?.jsonText)))
            }
        }
        for (index, message) in (value.messages ?? []).enumerated() {
            let messagePath = "\(path).messages[\(index)]"
            switch message {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: messagePath, reason: reason, rawJSON: raw?.jsonText)))
            case .value(let message):
                do {
                    events.append(try event(for: message, business: business, contacts: contacts, receivedAt: receivedAt))
                } catch {
                    events.append(.malformed(MalformedPart(path: messagePath, reason: error.description, rawJSON: nil)))
                }
            }
        }
        for (index, status) in (value.statuses ?? []).enumerated() {
            switch status {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: "\(path).statuses[\(index)]", reason: reason, rawJSON: raw?.jsonText)))
            case .value(let status):
                events.append(.status(update(for: status, business: business, contacts: contacts, receivedAt: receivedAt)))
            }
        }
        let errors = (value.errors ?? []).compactMap(\.value).map(\.detail)
        if !errors.isEmpty {
            events.append(.accountErrors(business: business, errors: errors))
        }
    }

    // MARK: - Messages

    private func event(for message: WireMessage, business: BusinessNumber, contacts: [WireContact],
                       receivedAt: Int64) throws(Failure) -> InboxEvent {
        guard let id = message.id.nonEmpty else { throw Failure(description: "message has an empty id") }
        let sender = identity(waID: message.from, userID: message.from_user_id, contacts: contacts,
                              soleContactFallback: true)
        guard sender.hasIdentifier else {
            throw Failure(description: "message \(id) names no sender (no from, from_user_id or contacts)")
        }
        let timestamp = message.timestamp?.value ?? receivedAt
        if message.type == "reaction" {
            guard let target = message.reaction?.message_id.nonEmpty else {
                throw Failure(description: "reaction \(id) names no message_id")
            }
            return .reaction(Reaction(id: MessageID(id), business: business, sender: sender, timestamp: timestamp,
                                      target: MessageID(target), emoji: message.reaction?.emoji.nonEmpty))
        }
        let errors = (message.errors ?? []).compactMap(\.value).map(\.detail)
        return .message(InboundMessage(
            id: MessageID(id),
            business: business,
            sender: sender,
            timestamp: timestamp,
            content: try content(of: message, errors: errors),
            context: message.context.map(Self.context),
            referral: message.referral.map(Self.referral),
            groupID: message.group_id.nonEmpty,
            errors: errors
        ))
    }

    func content(of message: WireMessage, errors: [APIErrorDetail]) throws(Failure) -> MessageContent {
        let type = message.type ?? "unknown"
        func missing() -> Failure { Failure(description: "\(type) message \(message.id) has no \(type) object") }
        switch type {
        case "text":
            guard let text = message.text else { throw missing() }
            return .text(body: text.body ?? "")
        case "image", "video", "audio", "document", "sticker":
            let media = [message.image, message.video, message.audio, message.document, message.sticker]
                .compactMap { $0 }.first
            guard let media else { throw missing() }
            var kind = MediaAttachment.Kind(rawValue: type) ?? .document
            if kind == .audio, media.voice?.value == true { kind = .voice }
            return .media(MediaAttachment(
                kind: kind, mediaID: media.id.nonEmpty, mimeType: media.mime_type.nonEmpty,
                sha256: media.sha256.nonEmpty, caption: media.caption.nonEmpty, filename: media.filename.nonEmpty,
                url: media.url.nonEmpty, animated: media.animated?.value ?? false))
        case "location":
            guard let location = message.location else { throw missing() }
            return .location(Location(latitude: location.latitude.value, longitude: location.longitude.value,
                                      name: location.name.nonEmpty, address: location.address.nonEmpty,
                                      url: location.url.nonEmpty))
        case "contacts":
            guard let cards = message.contacts else { throw missing() }
            return .contacts(cards.map { card in
                let name = card.name?.formatted_name.nonEmpty
                    ?? [card.name?.first_name, card.name?.last_name].compactMap { $0.nonEmpty }.joined(separator: " ").nonEmpty
                return SharedContact(
                    formattedName: name,
                    phones: (card.phones ?? []).map { .init(phone: $0.phone, waID: $0.wa_id, type: $0.type) },
                    emails: (card.emails ?? []).compactMap { $0.email.nonEmpty },
                    organization: card.org?.company.nonEmpty)
            })
        case "interactive":
            guard let interactive = message.interactive else { throw missing() }
            if let reply = interactive.button_reply {
                return .interactive(InteractiveReply(kind: .buttonReply, replyID: reply.id, title: reply.title))
            }
            if let reply = interactive.list_reply {
                return .interactive(InteractiveReply(kind: .listReply, replyID: reply.id, title: reply.title,
                                                     description: reply.description))
            }
            if let reply = interactive.nfm_reply {
                return .interactive(InteractiveReply(kind: .flowReply, name: reply.name, body: reply.body,
                                                     responseJSON: reply.response_json))
            }
            return .interactive(InteractiveReply(kind: .other, title: interactive.type))
        case "button":
            guard let button = message.button else { throw missing() }
            return .button(payload: button.payload, text: button.text)
        case "order":
            guard let order = message.order else { throw missing() }
            return .order(Order(catalogID: order.catalog_id, text: order.text.nonEmpty, items: (order.product_items ?? []).map {
                Order.Item(productRetailerID: $0.product_retailer_id, quantity: $0.quantity?.value,
                           itemPrice: $0.item_price?.value, currency: $0.currency)
            }))
        case "system":
            guard let system = message.system else { throw missing() }
            let kind = system.type.nonEmpty ?? "unknown"
            return .system(SystemNotice(
                kind: kind, body: system.body.nonEmpty,
                newWaID: kind == SystemNotice.changedNumber ? (system.new_wa_id.nonEmpty ?? system.wa_id.nonEmpty).map(WaID.init) : nil,
                newUserID: kind == SystemNotice.changedUserID ? (system.new_user_id.nonEmpty ?? system.user_id.nonEmpty).map(UserID.init) : nil))
        case "request_welcome":
            return .requestWelcome
        case "unsupported":
            return .unsupported(type: message.unsupported?.type.nonEmpty, errors: errors)
        default:
            return .unknown(type: type, rawJSON: message.rawForUnknownType?.jsonText ?? "{}")
        }
    }

    static func context(_ context: WireMessage.Context) -> MessageContext {
        MessageContext(
            repliedTo: context.id.nonEmpty.map(MessageID.init),
            repliedToFrom: context.from.nonEmpty,
            forwarded: context.forwarded?.value ?? false,
            frequentlyForwarded: context.frequently_forwarded?.value ?? false,
            referredProduct: context.referred_product.map {
                ReferredProduct(catalogID: $0.catalog_id, productRetailerID: $0.product_retailer_id)
            })
    }

    static func referral(_ referral: WireMessage.Referral) -> Referral {
        Referral(sourceURL: referral.source_url, sourceID: referral.source_id, sourceType: referral.source_type,
                 headline: referral.headline, body: referral.body, mediaType: referral.media_type,
                 ctwaClid: referral.ctwa_clid)
    }

    // MARK: - Statuses

    private func update(for status: WireStatus, business: BusinessNumber, contacts: [WireContact],
                        receivedAt: Int64) -> StatusUpdate {
        let recipient = identity(waID: status.recipient_id, userID: status.recipient_user_id, contacts: contacts,
                                 soleContactFallback: false)
        return StatusUpdate(
            messageID: MessageID(status.id),
            business: business,
            status: DeliveryStatus(rawValue: status.status.lowercased()).flatMap { [.sent, .delivered, .read, .played, .failed].contains($0) ? $0 : nil },
            rawStatus: status.status,
            timestamp: status.timestamp?.value ?? receivedAt,
            recipient: recipient.hasIdentifier ? recipient : nil,
            callbackData: status.biz_opaque_callback_data,
            errors: (status.errors ?? []).compactMap(\.value).map(\.detail))
    }

    // MARK: - Identity

    /// Combines the identifiers a message or status names with the matching `contacts[]`
    /// entry, which carries the profile name, username and the other identifier.
    func identity(waID: String?, userID: String?, contacts: [WireContact],
                          soleContactFallback: Bool) -> ContactIdentity {
        let waID = waID.nonEmpty
        let userID = userID.nonEmpty
        var match = contacts.first { contact in
            (waID != nil && contact.wa_id.nonEmpty == waID) || (userID != nil && contact.user_id.nonEmpty == userID)
        }
        if match == nil, soleContactFallback, waID == nil, userID == nil, contacts.count == 1 {
            match = contacts[0]
        }
        return ContactIdentity(
            waID: (waID ?? match?.wa_id.nonEmpty).map(WaID.init),
            userID: (userID ?? match?.user_id.nonEmpty).map(UserID.init),
            parentUserID: match?.parent_user_id.nonEmpty.map(UserID.init),
            username: match?.profile?.username.nonEmpty,
            name: match?.profile?.name.nonEmpty)
    }
}

extension Lossy {
    var value: Value? {
        if case .value(let value) = self { return value }
        return nil
    }
}

extension Optional where Wrapped == String {
    /// The string, or nil when it is absent or empty.
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
