import Foundation
import InboxCore
import Logging
import PostgresStore

extension Diagnosis {
    /// The checks of a PostgreSQL `db`: the connection (in the words `wabox serve` would
    /// use), the schema, the applier and the outbox. Reads only.
    public static func checkPostgres(_ location: PostgresLocation, now: Int64 = Int64(Date().timeIntervalSince1970),
                                     _ report: inout DoctorReport) async {
        let logger = Logger(label: "wabox.doctor", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            try await PostgresStore.probe(location, timeout: .seconds(5), logger: logger)
        } catch {
            report.fail("database", error.description)
            return
        }
        let health: PostgresHealth
        do {
            health = try await PostgresStore.reading(location, logger: logger) { try await $0.health() }
        } catch {
            report.fail("database", "\(location.redacted) answered, but reading it failed: \(error). Run `wabox doctor` again; if it persists, check the server's log")
            return
        }
        let server = "PostgreSQL \(health.serverVersion.split(separator: " ").first ?? "?") at \(location.redacted)"
        let newest = health.schemaVersions.max() ?? 0
        if health.schemaVersions.isEmpty {
            report.warn("database", "\(server) holds no wabox schema yet: `wabox serve --db …` creates it at its first start")
        } else if newest > health.latestSchemaVersion {
            report.fail("database", "\(server) has schema v\(newest), newer than this wabox knows (v\(health.latestSchemaVersion)): run the newer wabox")
        } else if newest < health.latestSchemaVersion {
            report.warn("database", "\(server) has schema v\(newest) of v\(health.latestSchemaVersion): the next `wabox serve` migrates it; \(health.messages) messages from \(health.contacts) contacts")
        } else {
            report.pass("database", "\(server), schema v\(newest) (current), \(health.messages) messages from \(health.contacts) contacts")
        }
        report.pass("identity", "replies written here are signed by the database role \(health.role)")
        checkApplier(health, now: now, &report)
        checkOutbox(health, &report)
    }

    private static func checkApplier(_ health: PostgresHealth, now: Int64, _ report: inout DoctorReport) {
        guard let progress = health.progress else { return }
        let waiting = progress.lag
        let behind = progress.oldestWaitingReceivedAt.map { max(0, now - $0) }
        switch (health.applier, waiting) {
        case (let lease?, _) where lease.isLive:
            let lag = waiting == 0 ? "nothing waits" : "\(waiting) bodies wait, the oldest \(behind ?? 0) s"
            let line = "\(health.journalCount) bodies journaled; applied by \(lease.holder) (renewed \(lease.renewedAgo) ms ago); \(lag)"
            if let behind, behind > 60 {
                report.warn("applier", line + ": more than a minute behind; see its log (`journalctl -u wabox`)")
            } else {
                report.pass("applier", line)
            }
        case (_, 0):
            report.pass("applier", "\(health.journalCount) bodies journaled, all applied; no wabox serve holds the applier lease now")
        default:
            report.fail("applier", "\(waiting) journaled bodies wait (the oldest \(behind ?? 0) s) and no wabox serve applies them: start `wabox serve --db …`")
        }
    }

    private static func checkOutbox(_ health: PostgresHealth, _ report: inout DoctorReport) {
        guard health.schemaVersions.contains(5) else { return }
        if let halt = health.halt {
            report.fail("sending", "\(halt): fix it (a new WABOX_ACCESS_TOKEN, the account in Business Manager), then restart wabox serve")
        }
        let queued = (health.outbox["queued"] ?? 0) + (health.outbox["in_flight"] ?? 0)
        let uncertain = health.outbox["uncertain"] ?? 0
        let senders = "\(health.liveSenders) sender\(health.liveSenders == 1 ? "" : "s") running"
        if uncertain > 0 {
            report.warn("outbox", "\(uncertain) message(s) uncertain (their sender stopped mid-request): resend or drop each from the inbox; \(queued) waiting; \(senders)")
        } else if queued > 0, health.liveSenders == 0 {
            report.fail("outbox", "\(queued) message(s) wait and no wabox serve sends: start one with WABOX_ACCESS_TOKEN and WABOX_PHONE_NUMBER_ID")
        } else {
            report.pass("outbox", "\(queued) message(s) waiting; \(senders)")
        }
    }
}
