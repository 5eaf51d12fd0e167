import Foundation
import InboxCore
import InboxStore

/// The raw view: a webhook body as `PrettyJSON` lays it out, under a title saying which
/// webhook it is and when it arrived.
enum RawJSON {
    /// What the raw view shows for a lookup: the body with a title saying which webhook it
    /// is and when it arrived, or why there is none.
    static func view(of lookup: RawWebhookLookup, wamid: MessageID?, utcOffset: Int) -> RawView {
        switch lookup {
        case .found(let webhook):
            let lines = PrettyJSON.lines(webhook.body)
            let time = Describe.day(webhook.receivedAt, offset: utcOffset) + " " + clockWithSeconds(webhook.receivedAt, offset: utcOffset)
            let title = "webhook #\(webhook.webhookID) · received \(time) · \(Describe.bytes(Int64(webhook.body.count)))"
            let focus = wamid.flatMap { wamid in lines.firstIndex { $0.contains("\"\(wamid.rawValue)\"") } }
            return RawView(title: title, lines: lines, focusLine: focus)
        case .sentFromWabox:
            return RawView(title: "raw webhook", problem: "this message was sent from wabox: no webhook brought it (its statuses are in wabox export)")
        case .pruned(let id):
            return RawView(title: "raw webhook", problem: "webhook #\(id) is no longer in the journal: bodies are pruned after journal_retention (30 days unless set)")
        case .notFound(let searched):
            return RawView(title: "raw webhook", problem: "this message was stored before wabox kept each message's webhook, and its id is not in the newest \(searched) webhooks")
        case .noMessage:
            return RawView(title: "raw webhook", problem: "the message is no longer in the database")
        }
    }

    private static func clockWithSeconds(_ timestamp: Int64, offset: Int) -> String {
        let seconds = ((Int(timestamp) + offset) % 60 + 60) % 60
        return Describe.clock(timestamp, offset: offset) + ":" + (seconds < 10 ? "0\(seconds)" : "\(seconds)")
    }
}
