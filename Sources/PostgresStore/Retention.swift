import Foundation
import PostgresNIO
import StoreContract

// Pruning on PostgreSQL (journal_retention, audit_retention), as SQLite prunes
// (InboxStore's Journal.swift and Audit.swift): the applier lease's holder does it once it
// has caught up, a chunk per transaction.

extension PostgresStore: PruningStore {
    public func pruneJournal(receivedBefore cutoff: Int64, limit: Int) async throws -> Int {
        try await transaction { tx in
            // The first `limit` applied bodies that are no dead letter's, by id; of those,
            // the ones older than the cutoff (ids follow arrival, so the walk stops there).
            let ids = try await tx.rows("""
                SELECT id FROM (
                    SELECT j.id, j.received_at FROM journal j
                    WHERE j.id <= (SELECT applied_through FROM journal_mark WHERE id = 1)
                      AND NOT EXISTS (SELECT 1 FROM dead_letter d WHERE d.journal_id = j.id)
                    ORDER BY j.id LIMIT \(limit)
                ) first WHERE received_at < \(cutoff)
                """) { try $0.decode(Int64.self) }
            guard !ids.isEmpty else { return 0 }
            // An account error keeps its row, not its body.
            try await tx.run("UPDATE account_error SET journal_id = NULL WHERE journal_id = ANY(\(ids))")
            try await tx.run("DELETE FROM journal WHERE id = ANY(\(ids))")
            return ids.count
        }
    }

    public func pruneAudit(before cutoff: Int64, limit: Int) async throws -> Int {
        try await transaction { tx in
            // The audit's trigger lets a row go only when it is older than this cutoff.
            _ = try await tx.returnsRow("SELECT set_config('wabox.audit_cutoff', \(String(cutoff)), true)")
            let removed = try await tx.rows("""
                DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < \(cutoff) ORDER BY id LIMIT \(limit))
                RETURNING id
                """) { try $0.decode(Int64.self) }
            return removed.count
        }
    }
}
