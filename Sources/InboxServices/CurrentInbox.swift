import Foundation
import InboxStore

/// Read your writes: a 200 means a webhook's body is in the journal, and its events reach
/// the inbox tables just after, by the applier of the process that holds the listener
/// lease. A command that reads the inbox as current (`wabox export`) first makes sure that
/// everything journaled before it started is applied.
public enum CurrentInbox {
    /// How the inbox became current.
    public enum CatchUp: Sendable, Equatable {
        /// Nothing waited.
        case alreadyCurrent
        /// The live holder of the lease on this file applied what waited.
        case appliedByListener
        /// This process applied that many bodies: no live listener holds the lease on this
        /// file (a lease row copied along with a backup does not count), or its applier
        /// stalled.
        case appliedHere(Int)
    }

    /// Returns once every body journaled before the call is applied: waits for the
    /// applier of a live lease holder on this very file, or applies the bodies here when
    /// there is none, or when that applier has not moved for `stallTimeout`. `note` hears
    /// what takes long (by default, standard error); `onWaiting` is told when the wait for
    /// the holder begins.
    ///
    /// - Important: Blocks the calling thread: for commands that run on the main thread.
    public static func catchUp(_ database: InboxDatabase, holder: LeaseHolder = LeaseHolder(),
                               stallTimeout: Duration = .seconds(30),
                               note: (String) -> Void = { FileHandle.standardError.write(Data(("wabox: " + $0 + "\n").utf8)) },
                               onWaiting: (ListenerLease) -> Void = { _ in }) throws -> CatchUp {
        var progress = try database.journalProgress()
        let target = progress.journaled
        guard progress.applied < target else { return .alreadyCurrent }
        if let lease = try database.currentLease(), holder.isAlive(lease), database.isLeaseOfThisFile(lease) {
            onWaiting(lease)
            let started = ContinuousClock.now
            var told = false
            var lastMove = started
            var applied = progress.applied
            while true {
                if !told, ContinuousClock.now - started >= .seconds(2) {
                    told = true
                    note("waiting for \(lease.holderDescription) to apply \(target - applied) acknowledged webhooks")
                }
                Thread.sleep(forTimeInterval: 0.02)
                progress = try database.journalProgress()
                if progress.applied >= target { return .appliedByListener }
                if progress.applied != applied {
                    applied = progress.applied
                    lastMove = .now
                    continue
                }
                guard let current = try database.currentLease(), holder.isAlive(current) else { break }
                if ContinuousClock.now - lastMove >= stallTimeout {
                    note("""
                        \(lease.holderDescription) has applied no journaled webhook for \(stallTimeout) with \
                        \(target - applied) waiting; applying them here (see its log)
                        """)
                    break
                }
            }
        }
        return .appliedHere(try database.applyWholeJournal())
    }
}
