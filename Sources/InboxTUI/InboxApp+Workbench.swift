import Foundation
import InboxCore
import InboxStore

extension InboxApp {
    /// Performs a workbench effect: reads on the main thread as the screen's other loads
    /// do, writes in tasks, the raw view's journal search off the main thread.
    func perform(_ effect: WorkbenchEffect) throws {
        switch effect {
        case .checkArrivals(let mark, let shown):
            let (arrivals, through) = try database.arrivals(after: mark, limit: 50)
            dispatch(.workbench(.arrivals(arrivals, through: through, shown: shown, nowMilliseconds: milliseconds())))
        case .alert(let alert):
            backend.alert(alert)
        case .react(let id, let target, let emoji):
            let now = clock()
            background("reaction not saved") { [completed] database in
                completed.post(.queued(try await database.enqueueReaction(
                    in: id, to: target, emoji: emoji, localID: UUID().uuidString.lowercased(), at: now)))
            }
        case .sendButtons(let id, let buttons, let replyTo):
            let now = clock()
            background("message with buttons not saved") { [completed] database in
                completed.post(.queued(try await database.enqueueButtons(
                    in: id, buttons, replyTo: replyTo, localID: UUID().uuidString.lowercased(), at: now)))
            }
        case .loadContact(let id):
            guard let details = try database.contactDetails(of: id, viewer: viewer) else {
                dispatch(.failed("the conversation is no longer in the database"))
                return
            }
            dispatch(.workbench(.contactLoaded(details)))
        case .loadRaw(let rowID, let wamid):
            let database = self.database, utcOffset = configuration.utcOffset
            // A message stored before webhooks were linked is looked for in the journal: a scan.
            offTheMainThread { [completed] in
                let view: RawView
                do {
                    view = RawJSON.view(of: try database.rawWebhook(forMessage: rowID), wamid: wamid, utcOffset: utcOffset)
                } catch {
                    view = RawView(title: "raw webhook", problem: "could not read the journal: \(error)")
                }
                completed.post(.workbench(.rawLoaded(view)))
            }
        }
    }
}
