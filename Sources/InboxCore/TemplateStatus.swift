/// What a template's status means for sending it.
public enum TemplateStatus {
    /// Statuses a template can be sent in: approved, and flagged (low quality, still active).
    public static let sendable: Set<String> = ["APPROVED", "FLAGGED", "REINSTATED"]

    public static func isSendable(_ status: String) -> Bool { sendable.contains(status.uppercased()) }

    /// Why a template in `status` cannot be sent, in plain words, for a reply that used it.
    public static func refusal(name: String, status: String, reason: String?) -> String {
        let why = reason.map { " (\($0))" } ?? ""
        let what = switch status.uppercased() {
        case "REJECTED": "WhatsApp rejected the template \(name)\(why)"
        case "PAUSED": "WhatsApp paused the template \(name) for its low quality\(why)"
        case "DISABLED": "WhatsApp disabled the template \(name)\(why)"
        case "PENDING_DELETION", "DELETED": "the template \(name) was deleted\(why)"
        default: "the template \(name) is \(status.lowercased())\(why)"
        }
        return what + ": pick another template, or edit this one in WhatsApp Manager"
    }
}
