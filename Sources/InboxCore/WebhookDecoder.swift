import Foundation

/// Turns a webhook body into `InboxEvent`s.
///
/// Decoding is lenient part by part: a malformed message, status or change becomes a
/// `.malformed` event and the rest of the batch is decoded as usual. Only a body that is
/// not a JSON object at all throws.
public struct WebhookDecoder: Sendable {
    /// What this decoder reads beyond the built-in types.
    public struct Configuration: Sendable {
        /// Readers for message types, by `type`, asked about the messages the built-in reading
        /// cannot read: of a type it does not know, or whose payload it cannot read. Empty in
        /// production. Tests set it to stand in for another release of wabox: one that has
        /// learned a type (the reader returns the content), or an older one that could not
        /// read it and kept such messages as dead letters (the reader throws).
        public var messageTypes: [String: MessageTypeReader]

        public init(messageTypes: [String: MessageTypeReader] = [:]) {
            self.messageTypes = messageTypes
        }
    }

    /// Reads a message of a type the decoder has learned from the message object as it came.
    /// A failure makes the message a dead letter (a `.malformed` part) with its description.
    public typealias MessageTypeReader = @Sendable (_ message: JSONValue) throws(Failure) -> MessageContent

    public let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String

        public init(description: String) {
            self.description = description
        }
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
        var strings = JSONStringTracker()
        var offset = 0
        for byte in body {
            defer { offset += 1 }
            if strings.isInString(byte) { continue }
            switch byte {
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
                        let time = entry.time?.value ?? receivedAt
                        if let value = change.value {
                            decode(value, path: "\(changePath).value", receivedAt: receivedAt, into: &events)
                        } else if let update = change.update, let field = change.field {
                            events.append(decode(update, field: field, account: entry.id, at: time,
                                                 path: "\(changePath).value"))
                        } else if !WireChange.valueFields.contains(change.field ?? ""),
                                  !WireChange.updateFields.contains(change.field ?? "") {
                            events.append(.ignored(reason: "field \(change.field.map { "\"\($0)\"" } ?? "missing")"))
                        }
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
            case .value(let status) where status.type?.lowercased() == "call":
                events.append(.call(callStatus(status, business: business, contacts: contacts, receivedAt: receivedAt)))
            case .value(let status):
                events.append(.status(update(for: status, business: business, contacts: contacts, receivedAt: receivedAt)))
            }
        }
        for (index, call) in (value.calls ?? []).enumerated() {
            let callPath = "\(path).calls[\(index)]"
            switch call {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: callPath, reason: reason, rawJSON: raw?.jsonText)))
            case .value(let call):
                do {
                    events.append(.call(try event(for: call, business: business, contacts: contacts, receivedAt: receivedAt)))
                } catch {
                    events.append(.malformed(MalformedPart(path: callPath, reason: error.description, rawJSON: nil)))
                }
            }
        }
        for (index, preference) in (value.user_preferences ?? []).enumerated() {
            let preferencePath = "\(path).user_preferences[\(index)]"
            switch preference {
            case .failure(let reason, let raw):
                events.append(.malformed(MalformedPart(path: preferencePath, reason: reason, rawJSON: raw?.jsonText)))
            case .value(let preference):
                let customer = identity(waID: preference.wa_id, userID: preference.user_id, contacts: contacts,
                                        soleContactFallback: false)
                guard customer.hasIdentifier, let category = preference.category.nonEmpty,
                      let choice = preference.value.nonEmpty else {
                    events.append(.malformed(MalformedPart(
                        path: preferencePath, reason: "a preference needs wa_id (or user_id), category and value", rawJSON: nil)))
                    continue
                }
                events.append(.preference(PreferenceUpdate(
                    business: value.metadata?.phone_number_id.nonEmpty == nil ? nil : business, customer: customer,
                    category: category, value: choice, detail: preference.detail.nonEmpty,
                    timestamp: preference.timestamp?.value ?? receivedAt)))
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
        let payload = message.content
        let errors = (message.errors ?? []).compactMap(\.value).map(\.detail)
        func inbound(_ content: MessageContent) -> InboxEvent {
            .message(InboundMessage(
                id: MessageID(id), business: business, sender: sender, timestamp: timestamp, content: content,
                context: message.context.map(Self.context), referral: message.referral.map(Self.referral),
                groupID: message.group_id.nonEmpty, errors: errors))
        }
        func unreadable(_ reason: String) -> InboxEvent {
            inbound(.unreadable(type: payload.type ?? "unknown", reason: reason, rawJSON: payload.raw?.jsonText ?? "{}"))
        }
        if !configuration.messageTypes.isEmpty, let type = payload.type, let raw = payload.raw,
           let reader = configuration.messageTypes[type] {
            return inbound(try reader(raw))
        }
        if let problem = payload.problem { return unreadable(problem) }
        switch payload.type {
        // WireContent checked that each of these names what it needs.
        case "reaction":
            guard let target = payload.reaction?.message_id.nonEmpty else { return unreadable("the reaction names no message_id") }
            return .reaction(Reaction(id: MessageID(id), business: business, sender: sender, timestamp: timestamp,
                                      target: MessageID(target), emoji: payload.reaction?.emoji.nonEmpty))
        case "edit":
            guard let original = payload.edit?.original_message_id.nonEmpty, let edited = payload.edit?.message else {
                return unreadable("the edit names no original_message_id")
            }
            return .edit(MessageEdit(id: MessageID(id), business: business, sender: sender, timestamp: timestamp,
                                     original: MessageID(original), content: content(of: edited, errors: errors)))
        case "revoke":
            guard let original = payload.revoke?.original_message_id.nonEmpty else {
                return unreadable("the deletion names no original_message_id")
            }
            return .revoke(MessageRevoke(id: MessageID(id), business: business, sender: sender, timestamp: timestamp,
                                         original: MessageID(original)))
        default:
            return inbound(content(of: payload, errors: errors))
        }
    }

    /// The content a payload carries; one that cannot be read is `.unreadable`, never thrown.
    func content(of payload: WireContent, errors: [APIErrorDetail]) -> MessageContent {
        let type = payload.type ?? "unknown"
        if let problem = payload.problem {
            return .unreadable(type: type, reason: problem, rawJSON: payload.raw?.jsonText ?? "{}")
        }
        switch type {
        case "text":
            return .text(body: payload.text?.body ?? "")
        case "image", "video", "audio", "document", "sticker":
            let media = [payload.image, payload.video, payload.audio, payload.document, payload.sticker]
                .compactMap { $0 }.first
            guard let media else {
                return .unreadable(type: type, reason: "the \(type) message has no \(type) object", rawJSON: "{}")
            }
            var kind = MediaAttachment.Kind(rawValue: type) ?? .document
            if kind == .audio, media.voice?.value == true { kind = .voice }
            return .media(MediaAttachment(
                kind: kind, mediaID: media.id.nonEmpty, mimeType: media.mime_type.nonEmpty,
                sha256: media.sha256.nonEmpty, caption: media.caption.nonEmpty, filename: media.filename.nonEmpty,
                url: media.url.nonEmpty, animated: media.animated?.value ?? false))
        case "location":
            guard let location = payload.location else { return .unreadable(type: type, reason: "no location object", rawJSON: "{}") }
            return .location(Location(latitude: location.latitude.value, longitude: location.longitude.value,
                                      name: location.name.nonEmpty, address: location.address.nonEmpty,
                                      url: location.url.nonEmpty))
        case "contacts":
            return .contacts((payload.contacts ?? []).map { card in
                let name = card.name?.formatted_name.nonEmpty
                    ?? [card.name?.first_name, card.name?.last_name].compactMap { $0.nonEmpty }.joined(separator: " ").nonEmpty
                return SharedContact(
                    formattedName: name,
                    phones: (card.phones ?? []).map { .init(phone: $0.phone, waID: $0.wa_id, type: $0.type) },
                    emails: (card.emails ?? []).compactMap { $0.email.nonEmpty },
                    organization: card.org?.company.nonEmpty)
            })
        case "interactive":
            guard let interactive = payload.interactive else {
                return .unreadable(type: type, reason: "no interactive object", rawJSON: "{}")
            }
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
            return .button(payload: payload.button?.payload, text: payload.button?.text)
        case "order":
            let order = payload.order
            return .order(Order(catalogID: order?.catalog_id, text: order?.text.nonEmpty, items: (order?.product_items ?? []).map {
                Order.Item(productRetailerID: $0.product_retailer_id, quantity: $0.quantity?.value,
                           itemPrice: $0.item_price?.value, currency: $0.currency)
            }))
        case "system":
            let system = payload.system
            let kind = system?.type.nonEmpty ?? "unknown"
            return .system(SystemNotice(
                kind: kind, body: system?.body.nonEmpty,
                newWaID: kind == SystemNotice.changedNumber ? (system?.new_wa_id.nonEmpty ?? system?.wa_id.nonEmpty).map(WaID.init) : nil,
                newUserID: kind == SystemNotice.changedUserID ? (system?.new_user_id.nonEmpty ?? system?.user_id.nonEmpty).map(UserID.init) : nil))
        case "request_welcome":
            return .requestWelcome
        case "unsupported":
            return .unsupported(type: payload.unsupported?.type.nonEmpty, errors: errors)
        case "reaction", "edit", "revoke":
            // Only as the new content of an edit, which cannot be one of these.
            return .unreadable(type: type, reason: "an edit cannot turn a message into a \(type)", rawJSON: payload.raw?.jsonText ?? "{}")
        default:
            return .unknown(type: type, rawJSON: payload.raw?.jsonText ?? "{}")
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

    // MARK: - Calls

    private func event(for call: WireCall, business: BusinessNumber, contacts: [WireContact],
                       receivedAt: Int64) throws(Failure) -> CallEvent {
        guard let id = call.id.nonEmpty else { throw Failure(description: "call has an empty id") }
        let direction: CallEvent.Direction? = switch call.direction?.uppercased() ?? "" {
        case "USER_INITIATED": .customer
        case "BUSINESS_INITIATED": .business
        default: nil
        }
        // The customer is the caller of a call they placed and the callee of one the
        // business placed; without a direction, whichever end is not the business.
        let businessNumber = business.displayPhoneNumber
        let ends: [String] = [call.from.nonEmpty, call.to.nonEmpty].compactMap { $0 }
        let number: String? = switch direction {
        case .business?: call.to.nonEmpty
        case .customer?: call.from.nonEmpty
        case nil: ends.first { $0 != businessNumber }
        }
        let customer = identity(waID: number, userID: nil, contacts: contacts, soleContactFallback: true)
        guard customer.hasIdentifier else {
            throw Failure(description: "call \(id) names no customer (no from, to or contacts)")
        }
        let kind = CallEvent.Kind(rawValue: call.event?.lowercased() ?? "") ?? .other
        return CallEvent(id: CallID(id), business: business, customer: customer, direction: direction,
                         kind: kind == .status ? .other : kind, status: call.status.nonEmpty,
                         timestamp: call.timestamp?.value ?? receivedAt, startTime: call.start_time?.value,
                         endTime: call.end_time?.value, duration: call.duration?.value)
    }

    /// A call's progress reported as a status (`statuses[]` with `type: "call"`): these are
    /// about calls the business placed, to `recipient_id`.
    private func callStatus(_ status: WireStatus, business: BusinessNumber, contacts: [WireContact],
                            receivedAt: Int64) -> CallEvent {
        let recipient = identity(waID: status.recipient_id, userID: status.recipient_user_id, contacts: contacts,
                                 soleContactFallback: true)
        return CallEvent(id: CallID(status.id), business: business, customer: recipient, direction: .business,
                         kind: .status, status: status.status, timestamp: status.timestamp?.value ?? receivedAt)
    }

    // MARK: - Account and template updates

    private func decode(_ update: WireUpdate, field: String, account: String?, at time: Int64, path: String) -> InboxEvent {
        func malformed(_ reason: String) -> InboxEvent {
            .malformed(MalformedPart(path: path, reason: reason, rawJSON: nil))
        }
        if field == "account_update" {
            guard let event = update.event.nonEmpty else { return malformed("the account update names no event") }
            return .accountUpdate(AccountUpdate(
                account: account.nonEmpty ?? "unknown", event: event, phoneNumber: update.phone_number.nonEmpty,
                restrictions: (update.restriction_info ?? []).compactMap { restriction in
                    restriction.restriction_type.nonEmpty.map {
                        AccountUpdate.Restriction(type: $0, expiration: restriction.expiration?.value)
                    }
                },
                banState: update.waba_ban_state?.first, banDate: update.waba_ban_date.nonEmpty,
                violationType: update.violation_type.nonEmpty, timestamp: time))
        }
        guard let name = update.message_template_name.nonEmpty else {
            return malformed("the \(field) names no message_template_name")
        }
        let change: TemplateUpdate.Change
        switch field {
        case "message_template_status_update":
            guard let event = update.event.nonEmpty else { return malformed("the template status update names no event") }
            let reason = update.reason.nonEmpty.flatMap { $0.uppercased() == "NONE" ? nil : $0 }
            change = .status(event.uppercased(), reason: reason)
        case "message_template_quality_update":
            guard let score = update.new_quality_score.nonEmpty else { return malformed("the quality update names no new_quality_score") }
            change = .quality(previous: update.previous_quality_score.nonEmpty, new: score.uppercased())
        case "template_category_update":
            guard let category = update.new_category.nonEmpty else { return malformed("the category update names no new_category") }
            change = .category(previous: update.previous_category.nonEmpty, new: category.uppercased())
        default:
            change = .components
        }
        return .templateUpdate(TemplateUpdate(
            account: account.nonEmpty, templateID: update.message_template_id.nonEmpty, name: name,
            language: update.message_template_language.nonEmpty, category: update.message_template_category.nonEmpty?.uppercased(),
            change: change, timestamp: time))
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
