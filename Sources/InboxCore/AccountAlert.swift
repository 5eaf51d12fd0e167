import Foundation

/// Something Meta said about the account that agents must know, in plain words with what
/// stops working, kept until a later update lifts it.
public struct AccountAlert: Sendable, Hashable, Codable {
    /// Alerts of one slot replace each other; a lifting update clears its slot.
    public enum Slot: String, Sendable, Hashable, Codable, CaseIterable {
        case restriction, disabled, violation, offboarded
    }

    /// The WhatsApp Business Account.
    public var account: String
    public var slot: Slot
    /// The update that raised it (`ACCOUNT_RESTRICTION`, `DISABLED_UPDATE`, …).
    public var event: String
    public var restrictions: [AccountUpdate.Restriction]
    public var banState: String?
    public var banDate: String?
    public var violationType: String?
    /// When Meta sent it (Unix seconds).
    public var at: Int64

    public init(account: String, slot: Slot, event: String, restrictions: [AccountUpdate.Restriction] = [],
                banState: String? = nil, banDate: String? = nil, violationType: String? = nil, at: Int64) {
        self.account = account
        self.slot = slot
        self.event = event
        self.restrictions = restrictions
        self.banState = banState
        self.banDate = banDate
        self.violationType = violationType
        self.at = at
    }

    static let businessInitiated = "RESTRICTED_BIZ_INITIATED_MESSAGING"
    static let customerInitiated = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING"

    /// When it ends by itself (Unix seconds): a restriction's latest expiration; nil when
    /// it lasts until Meta lifts it.
    public var expiresAt: Int64? {
        guard slot == .restriction, !restrictions.isEmpty else { return nil }
        let expirations = restrictions.map(\.expiration)
        return expirations.contains(nil) ? nil : expirations.compactMap { $0 }.max()
    }

    /// Whether every send fails while it holds: then sending halts, as on error 368.
    public var stopsAllSending: Bool {
        switch slot {
        case .disabled: (banState ?? "DISABLE").uppercased() == "DISABLE"
        case .offboarded: event.uppercased() == "ACCOUNT_OFFBOARDED"
        case .restriction:
            Set(restrictions.map { $0.type.uppercased() }).isSuperset(of: [Self.businessInitiated, Self.customerInitiated])
        case .violation: false
        }
    }

    /// What it means, in plain words with what stops working and what to do.
    public var words: String {
        switch slot {
        case .restriction:
            let types = Set(restrictions.map { $0.type.uppercased() })
            var stops: [String] = []
            if stopsAllSending {
                stops.append("nothing will send: neither templates nor replies")
            } else {
                if types.contains(Self.businessInitiated) {
                    stops.append("templates and any message the business starts will fail (replies within a customer's 24-hour window still go)")
                }
                if types.contains(Self.customerInitiated) { stops.append("replies to customers will fail") }
            }
            if types.contains("RESTRICTED_ADD_PHONE_NUMBER_ACTION") { stops.append("no phone number can be added") }
            let other = types.subtracting([Self.businessInitiated, Self.customerInitiated, "RESTRICTED_ADD_PHONE_NUMBER_ACTION"])
            if !other.isEmpty { stops.append("restricted: " + other.sorted().joined(separator: ", ")) }
            let until = expiresAt.map { " until " + Self.utc($0) } ?? ""
            return "Meta restricted the account\(until): " + stops.joined(separator: "; ")
                + "; see WhatsApp Manager → Account quality"
        case .disabled where (banState ?? "").uppercased() == "SCHEDULE_FOR_DISABLE":
            let when = banDate.map { " on \($0)" } ?? " soon"
            return "Meta will disable the account\(when): after that nothing will send; appeal in WhatsApp Manager → Account quality"
        case .disabled:
            return "Meta disabled the account: nothing will send until Meta reinstates it; appeal in WhatsApp Manager → Account quality"
        case .violation:
            let type = violationType.map { " (\($0))" } ?? ""
            return "Meta recorded a policy violation\(type): more can restrict the account; see WhatsApp Manager → Account quality"
        case .offboarded where event.uppercased() == "ACCOUNT_OFFBOARDED":
            return "the account was disconnected from this app: nothing will send until it is connected again"
        case .offboarded:
            return "the partner's access to the account was removed (\(event)): sending may fail until it is given back"
        }
    }

    /// `2026-12-12 10:00 UTC`.
    public static func utc(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds))) + " UTC"
    }
}

extension AccountUpdate {
    /// What the update does to the account's alerts.
    public enum Effect: Sendable, Equatable {
        /// Raises an alert (replacing any of its slot).
        case raise(AccountAlert)
        /// Lifts the alerts of these slots.
        case lift([AccountAlert.Slot])
        /// Nothing agents need to see (a verified account, a pricing change, …).
        case unchanged
    }

    public var effect: Effect {
        func alert(_ slot: AccountAlert.Slot) -> AccountAlert {
            AccountAlert(account: account, slot: slot, event: event, restrictions: restrictions, banState: banState,
                         banDate: banDate, violationType: violationType, at: timestamp)
        }
        switch event.uppercased() {
        case "ACCOUNT_RESTRICTION":
            return restrictions.isEmpty ? .lift([.restriction]) : .raise(alert(.restriction))
        case "ACCOUNT_VIOLATION":
            return .raise(alert(.violation))
        case "DISABLED_UPDATE":
            switch (banState ?? "").uppercased() {
            case "REINSTATE": return .lift([.disabled, .violation])
            case "DISABLE", "SCHEDULE_FOR_DISABLE": return .raise(alert(.disabled))
            default: return .unchanged
            }
        case "ACCOUNT_OFFBOARDED", "PARTNER_REMOVED":
            return .raise(alert(.offboarded))
        case "ACCOUNT_RECONNECTED", "PARTNER_ADDED":
            return .lift([.offboarded])
        default:
            return .unchanged
        }
    }
}
