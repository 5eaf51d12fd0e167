import InboxCore
import InboxStore

// The conversation list under a filter, found a bounded step at a time. Most filters are
// answered by an index in one query; one that must be walked (free text matching many old
// contacts, a negated term) looks at a few thousand conversations per loop turn, so that
// typing in the filter never waits for a walk through a million of them. The list fills in
// as the walk goes; a new key starts a new one.

/// A filter's walk through the list: what it looks for, what it found, where it stands.
struct ListScan: Equatable {
    var filter: ConversationFilter
    var unreadOnly: Bool
    var scope: ConversationScope
    var limit: Int
    var found: [ConversationSummary] = []
    var from: ConversationCursor?
    /// Counts the steps, so that a walk restarted with the same filter differs.
    var generation = 0
}

extension InboxApp {
    func startListScan(_ scan: ListScan) {
        var scan = scan
        scan.generation = (listScan?.generation ?? 0) + 1
        listScan = scan
        continueListScan()
    }

    /// One step of the walk; the list shows what it has found so far.
    func continueListScan() {
        guard var scan = listScan else { return }
        do {
            let step = try database.conversationStep(filter: scan.filter, unreadOnly: scan.unreadOnly, scope: scan.scope,
                                                     after: scan.from, limit: scan.limit - scan.found.count, viewer: viewer,
                                                     now: nil, window: configuration.listWindow)
            scan.found += step.items
            let wasScanning = state.workbench.listScanning
            if let next = step.scannedTo, scan.found.count < scan.limit {
                scan.from = next
                scan.generation += 1
                listScan = scan
                dispatch(.conversationsLoaded(scan.found, hasMore: true))
                if !wasScanning { dispatch(.listScanning(true)) }
            } else {
                listScan = nil
                // A page filled by the last step of a walk may have more after it.
                dispatch(.conversationsLoaded(scan.found, hasMore: step.next != nil || step.scannedTo != nil))
                if wasScanning { dispatch(.listScanning(false)) }
            }
        } catch {
            listScan = nil
            if state.workbench.listScanning { dispatch(.listScanning(false)) }
            // A store out of reach is the status bar's to say, once.
            if !(error is any StoreUnreachableError) { dispatch(.failed("database: \(error)")) }
        }
    }
}

extension InboxApp {
    /// Whether a filter's walk through the list is still going on.
    public var isWalkingTheList: Bool { listScan != nil }
}
