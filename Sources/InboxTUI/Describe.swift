import InboxCore
import InboxStore

/// Human words for stored things: message placeholders, error reasons, times.
enum Describe {
    /// Where a customer's file stands, in a few words: its size and state. `downloading`
    /// is whether a process with an access token runs the downloads.
    static func media(_ status: MediaStatus?, downloading: Bool) -> String {
        let size = (status?.durationMilliseconds.map { duration($0) + " · " } ?? "")
            + (status?.fileSize.map { bytes($0) + " · " } ?? "")
        switch status?.state ?? .pending {
        case .pending where !downloading: return size + "not downloaded (no access token)"
        case .pending: return size + "downloading…" + (status?.reason.map { " (\($0))" } ?? "")
        case .ready: return size + "downloaded"
        case .failed: return size + "failed: " + (status?.reason ?? "no reason given")
        case .expired: return size + "expired: " + (status?.reason ?? "the Cloud API no longer has it")
        }
    }

    /// A playing time as players show it: 0:07, 12:30, 1:02:03.
    static func duration(_ milliseconds: Int64) -> String {
        let seconds = (max(0, milliseconds) + 500) / 1000
        let (hours, minutes) = (seconds / 3600, seconds % 3600 / 60)
        return hours > 0 ? "\(hours):\(pad(Int(minutes))):\(pad(Int(seconds % 60)))" : "\(minutes):\(pad(Int(seconds % 60)))"
    }

    /// A byte count as people read it: 812 B, 14 KB, 2.1 MB.
    static func bytes(_ count: Int64) -> String {
        if count < 1024 { return "\(count) B" }
        if count < 1024 * 1024 { return "\(count / 1024) KB" }
        let megabytes = Double(count) / 1_048_576
        return megabytes < 10 ? String(format: "%.1f MB", megabytes) : "\(Int(megabytes)) MB"
    }

    /// What a message says, with a readable placeholder for every non-text type.
    static func content(_ content: MessageContent) -> String {
        switch content {
        case .text(let body):
            return body
        case .media(let media):
            let caption = media.caption.map { " " + $0 } ?? ""
            switch media.kind {
            case .image: return "[image]" + caption
            case .video: return "[video]" + caption
            case .audio: return "[audio]" + caption
            case .voice: return "[voice note]"
            case .sticker: return media.animated ? "[animated sticker]" : "[sticker]"
            case .document: return "[document: \(media.filename ?? "file")]" + caption
            }
        case .location(let location):
            let name = [location.name, location.address].compactMap { $0 }.joined(separator: ", ")
            let coordinates = "(\(format(location.latitude)), \(format(location.longitude)))"
            return name.isEmpty ? "[location] \(coordinates)" : "[location] \(name) \(coordinates)"
        case .contacts(let cards):
            let names = cards.compactMap(\.formattedName).joined(separator: ", ")
            return cards.count == 1 ? "[contact] \(names)" : "[\(cards.count) contacts] \(names)"
        case .interactive(let reply):
            switch reply.kind {
            case .buttonReply: return "[button] \(reply.title ?? "")"
            case .listReply: return "[list] \(reply.title ?? "")" + (reply.description.map { " – \($0)" } ?? "")
            case .flowReply: return "[form] \(reply.body ?? reply.name ?? "answered")"
            case .other: return "[interactive] \(reply.title ?? "")"
            }
        case .button(_, let text):
            return "[button] \(text ?? "")"
        case .order(let order):
            let count = order.items.reduce(0) { $0 + Int($1.quantity ?? 1) }
            return "[order] \(count) item\(count == 1 ? "" : "s")" + (order.text.map { ": \($0)" } ?? "")
        case .system(let notice):
            return notice.body ?? "[\(notice.kind)]"
        case .requestWelcome:
            return "opened the chat for the first time"
        case .unsupported(let type, _):
            return "[unsupported: \(type ?? "unknown type")]"
        case .unknown(let type, _):
            return "[unsupported: \(type)]"
        case .call(let call):
            return Self.call(call, who: "the customer")
        case .unreadable(let type, _, _):
            return "a message wabox could not read (\(type))"
        }
    }

    /// What a stored message says, as a preview or a quote: its content, unless the
    /// customer deleted it (and `show_deleted` is off); a call names the customer.
    static func preview(_ message: StoredMessage, who: String, showDeleted: Bool) -> String {
        if message.deletedAt != nil, !showDeleted { return "deleted by the customer" }
        if case .call(let call) = message.content { return Self.call(call, who: who) }
        return content(message.content)
    }

    /// A call's notice: who called whom, answered or missed, how long. wabox cannot take
    /// calls, and says so while one rings or when one was missed.
    static func call(_ call: CallSummary, who: String) -> String {
        let inbound = call.direction == .customer
        switch (call.outcome, inbound) {
        case (.ringing, true): return "\(who) is calling: wabox does not answer calls"
        case (.ringing, false): return "calling \(who)…"
        case (.answered, _):
            let what = inbound ? "call from \(who), answered" : "call to \(who), answered"
            return what + (call.duration.map { ", " + Self.callLength($0) } ?? ", in progress")
        case (.missed, true): return "missed call from \(who) (wabox does not answer calls)"
        case (.missed, false): return "call to \(who), not answered"
        }
    }

    /// How long a call lasted: `45s`, `2m 05s`, `1h 02m`.
    static func callLength(_ seconds: Int64) -> String {
        let seconds = max(0, seconds)
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(pad(Int(seconds % 60)))s" }
        return "\(seconds / 3600)h \(pad(Int(seconds % 3600 / 60)))m"
    }

    /// Whether a message is a notice from the platform rather than words from someone.
    static func isNotice(_ content: MessageContent) -> Bool {
        switch content {
        case .system, .requestWelcome, .call: true
        default: false
        }
    }

    private static func format(_ value: Double) -> String {
        let rounded = (value * 10_000).rounded() / 10_000
        return String(rounded)
    }

    /// Why a message failed, in plain words.
    static func reason(_ error: APIErrorDetail?) -> String {
        guard let error else { return "failed" }
        switch error.code {
        case 131047: return "more than 24 h since the customer wrote: only a template can be sent"
        case 131026: return "undeliverable: the number is not on WhatsApp or its app is too old"
        case 130429: return "throughput limit reached"
        case 131056: return "too many messages to this customer"
        case 190: return "access token expired or invalid"
        case 100: return "invalid parameter" + (error.details.map { ": \($0)" } ?? "")
        case 131051: return "message type not supported"
        case 131000: return "unknown error at WhatsApp"
        case 368, 131031: return "the business account is restricted or locked"
        default:
            return error.title ?? error.message ?? error.code.map { "error \($0)" } ?? "failed"
        }
    }

    // MARK: - Time

    struct CivilTime {
        var year: Int, month: Int, day: Int, weekday: Int, hour: Int, minute: Int
        var dayNumber: Int
    }

    static func civil(_ timestamp: Int64, offset: Int) -> CivilTime {
        let seconds = Int(timestamp) + offset
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let secondsOfDay = seconds - days * 86_400
        // Days to civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let weekday = ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday
        return CivilTime(year: year, month: month, day: day, weekday: weekday, hour: secondsOfDay / 3600,
                         minute: secondsOfDay % 3600 / 60, dayNumber: days)
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func clock(_ timestamp: Int64, offset: Int) -> String {
        let time = civil(timestamp, offset: offset)
        return pad(time.hour) + ":" + pad(time.minute)
    }

    static func day(_ timestamp: Int64, offset: Int) -> String {
        let time = civil(timestamp, offset: offset)
        return "\(weekdays[time.weekday]) \(time.day) \(months[time.month - 1]) \(time.year)"
    }

    /// Short time for the list: the clock today, the weekday this week, else the date.
    static func relative(_ timestamp: Int64, now: Int64, offset: Int) -> String {
        let then = civil(timestamp, offset: offset)
        let today = civil(now, offset: offset)
        if then.dayNumber == today.dayNumber { return clock(timestamp, offset: offset) }
        if today.dayNumber - then.dayNumber < 7, then.dayNumber < today.dayNumber { return weekdays[then.weekday] }
        if then.year == today.year { return "\(then.day) \(months[then.month - 1])" }
        return "\(months[then.month - 1]) \(then.year)"
    }

    /// "alice is typing…", "alice and bob are typing…".
    static func typing(_ agents: [String]) -> String {
        switch agents.count {
        case 0: ""
        case 1: "\(agents[0]) is typing…"
        case 2: "\(agents[0]) and \(agents[1]) are typing…"
        default: "\(agents[0]) and \(agents.count - 1) others are typing…"
        }
    }

    /// "5s", "3m", "2h", "4d" ago.
    static func age(_ seconds: Int64) -> String {
        switch max(0, seconds) {
        case ..<60: return "\(max(0, seconds))s"
        case ..<3600: return "\(seconds / 60)m"
        case ..<86_400: return "\(seconds / 3600)h"
        default: return "\(seconds / 86_400)d"
        }
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
