import Foundation
import InboxCore
import Logging
import PostgresStore

extension CommandOutput {
    /// `wabox export --db postgres://…`: every record, oldest first, once the bodies
    /// journaled before now are applied (read your writes, as on SQLite). The applier is a
    /// `wabox serve`'s: when none applies within `applierWait`, what is applied is exported
    /// and standard error says how many bodies wait.
    public static func export(location: PostgresLocation, contact: String?, showDeleted: Bool,
                              applierWait: Duration = .seconds(10)) async throws(Failure) {
        let logger = Logger(label: "wabox.export", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            try await PostgresStore.probe(location, logger: logger)
            try await PostgresStore.reading(location, logger: logger) { store in
                // Version 2 made the inbox's rows; the export reads nothing newer.
                guard try await store.schemaVersions().contains(2) else {
                    throw Failure(description: """
                        \(location.redacted) holds no wabox inbox of this version yet: start `wabox serve --db …` once, \
                        which creates or migrates it
                        """)
                }
                let target = try await store.journalProgressNow().journaled
                let deadline = ContinuousClock.now + applierWait
                var progress = try await store.journalProgressNow()
                while progress.applied < target, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                    progress = try await store.journalProgressNow()
                }
                if progress.applied < target {
                    FileHandle.standardError.write(Data("""
                        wabox export: \(progress.lag) journaled bodies are not applied yet (is a wabox serve running on \
                        this database?); the export leaves out what they hold
                        \n
                        """.utf8))
                }
                var output = BufferedOutput()
                _ = try await store.exportRecords(contact: contact, showDeleted: showDeleted) { record in
                    output.write(Data((record.jsonLine + "\n").utf8))
                }
                output.flush()
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: String(describing: error))
        }
    }
}
