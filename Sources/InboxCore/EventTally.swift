/// How many events of each kind one webhook body held, for `wabox journal`: "2 messages,
/// 1 status".
public struct EventTally: Sendable, Equatable {
    /// The kinds, in the order they are listed.
    public enum Kind: String, CaseIterable, Sendable {
        case message, reaction, status, edit, deletion, call, echo, preference
        case accountUpdate = "account_update", templateUpdate = "template_update", accountError = "account_error"
        /// Parts wabox does not handle (another `object` or `field`).
        case ignored
        /// Parts that could not be decoded: each left a dead letter.
        case unreadable

        /// `count` of this kind in words: "1 status", "2 statuses".
        public func counted(_ count: Int) -> String {
            let (one, many): (String, String) = switch self {
            case .message: ("message", "messages")
            case .reaction: ("reaction", "reactions")
            case .status: ("status", "statuses")
            case .edit: ("edit", "edits")
            case .deletion: ("deletion", "deletions")
            case .call: ("call event", "call events")
            case .echo: ("echo", "echoes")
            case .preference: ("preference", "preferences")
            case .accountUpdate: ("account update", "account updates")
            case .templateUpdate: ("template update", "template updates")
            case .accountError: ("account error", "account errors")
            case .ignored: ("ignored part", "ignored parts")
            case .unreadable: ("unreadable part", "unreadable parts")
            }
            return "\(count) \(count == 1 ? one : many)"
        }
    }

    /// The kinds present, in `Kind` order, with their counts.
    public private(set) var counts: [(kind: Kind, count: Int)]

    public init(_ events: [InboxEvent]) {
        var byKind: [Kind: Int] = [:]
        for event in events {
            switch event {
            case .message: byKind[.message, default: 0] += 1
            case .reaction: byKind[.reaction, default: 0] += 1
            case .status: byKind[.status, default: 0] += 1
            case .accountErrors(_, let errors): byKind[.accountError, default: 0] += errors.count
            case .edit: byKind[.edit, default: 0] += 1
            case .revoke: byKind[.deletion, default: 0] += 1
            case .call: byKind[.call, default: 0] += 1
            case .accountUpdate: byKind[.accountUpdate, default: 0] += 1
            case .templateUpdate: byKind[.templateUpdate, default: 0] += 1
            case .preference: byKind[.preference, default: 0] += 1
            case .ignored: byKind[.ignored, default: 0] += 1
            case .malformed: byKind[.unreadable, default: 0] += 1
            case .echo: byKind[.echo, default: 0] += 1
            }
        }
        counts = Kind.allCases.compactMap { kind in byKind[kind].map { (kind, $0) } }
    }

    public static func == (lhs: EventTally, rhs: EventTally) -> Bool {
        lhs.counts.elementsEqual(rhs.counts) { $0.kind == $1.kind && $0.count == $1.count }
    }

    /// "2 messages, 1 status"; "no events" when it held none.
    public var description: String {
        counts.isEmpty ? "no events" : counts.map { $0.kind.counted($0.count) }.joined(separator: ", ")
    }
}

extension InboxEvent {
    /// The customer the event is about, when it is about one.
    public var customer: ContactIdentity? {
        switch self {
        case .message(let message): message.sender
        case .reaction(let reaction): reaction.sender
        case .status(let update): update.recipient
        case .edit(let edit): edit.sender
        case .revoke(let revoke): revoke.sender
        case .call(let call): call.customer
        case .preference(let preference): preference.customer
        case .echo(.message(let message)): message.sender
        case .echo(.reaction(let reaction)): reaction.sender
        case .accountErrors, .accountUpdate, .templateUpdate, .ignored, .malformed: nil
        }
    }
}
