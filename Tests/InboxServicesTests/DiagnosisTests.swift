import CloudAPI
import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import Synchronization
import Testing

/// The checks of `wabox doctor` that live in the library, with their lines captured.
@Suite struct DiagnosisTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func aSoundDatabaseIsReportedWithItsCounts() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest([Fixtures.webhook("text")])
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkDatabase(at: temp.path, &report)
        #expect(report.failures == 0)
        let line = try #require(lines.all.first)
        #expect(line.hasPrefix("✓ database    \(temp.path): migrated, integrity ok, 1 messages from 1 contacts"), "\(line)")
    }

    /// Acknowledged webhooks not yet applied, and nobody to apply them: doctor says so
    /// and what to do; once applied, the line passes.
    @Test func theApplierLagIsReported() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try temp.database.appendToJournalSync([JournalEntry(receivedAt: 1_764_500_000, body: try Fixtures.data("text"))])
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkDatabase(at: temp.path, &report)
        let line = try #require(lines.all.first { $0.contains("applier") }, "\(lines.all)")
        #expect(line.hasPrefix("! applier     applier_lag 1: acknowledged webhooks not yet in the inbox"), "\(line)")
        #expect(line.contains("no listener runs to apply them"), "\(line)")
        _ = try temp.database.applyWholeJournal()
        let after = Lines()
        var again = DoctorReport(emit: after.add)
        Diagnosis.checkDatabase(at: temp.path, &again)
        #expect(after.all.contains("✓ applier     applier_lag 0: of the webhooks acknowledged, all applied"), "\(after.all)")
    }

    @Test func aFileWhereTheFolderShouldBeFails() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-diag-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkDatabase(at: file.appendingPathComponent("inbox.sqlite").path, &report)
        #expect(report.failures == 1)
        #expect(lines.all.first?.contains("\(file.path) is a file, not a folder") == true, "\(lines.all)")
    }

    @Test func secretsNeverReachALine() {
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        report.secrets = ["EAAG-very-secret-token-1234"]
        report.fail("sending", "the token EAAG-very-secret-token-1234 was refused")
        report.summarise()
        #expect(lines.all.first == "✗ sending     the token …1234 was refused")
        #expect(lines.all.last?.hasPrefix("1 problem (✗)") == true)
    }

    @Test func networkFailuresInPlainWords() {
        let refused = Diagnosis.explain(TransportFailure(kind: .refused(host: "127.0.0.1", port: 9)),
                                        base: "http://127.0.0.1:9", url: "http://127.0.0.1:9/v26.0/1")
        #expect(refused.hasPrefix("cannot connect to 127.0.0.1:9 for http://127.0.0.1:9"))
        let dns = Diagnosis.explain(TransportFailure(kind: .unresolvable(host: "graph.example", detail: "no such host")),
                                    base: "https://graph.example", url: "https://graph.example/v26.0/1")
        #expect(dns.contains("getent hosts graph.example"))
        let slow = Diagnosis.explain(TransportFailure(kind: .noAnswer), base: "https://graph.facebook.com", url: "")
        #expect(slow.hasPrefix("no answer from https://graph.facebook.com within 10 s"))
    }

    @Test func redactionKeepsTheLastFourCharacters() {
        #expect(Redaction.shown("abcdefgh1234") == "…1234")
        #expect(Redaction.shown("short") == "****")
        #expect(Redaction.shown(nil) == "(not set)")
    }

    @Test func theMediaFolderIsCheckedAndItsQueueCounted() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let media = temp.directory.appendingPathComponent("media").path
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkMedia(directory: media, databasePath: temp.path, sending: true, &report)
        #expect(lines.all.last == "✓ media       none yet at \(media); made with the first download")

        try FileManager.default.createDirectory(atPath: media, withIntermediateDirectories: true)
        try Data(count: 2048).write(to: URL(fileURLWithPath: media).appendingPathComponent("ab12"))
        _ = try await temp.database.ingest([Fixtures.webhook("media")])
        try await temp.database.queueNewMedia()
        Diagnosis.checkMedia(directory: media, databasePath: temp.path, sending: false, &report)
        let line = try #require(lines.all.last)
        #expect(line.hasPrefix("! media       \(media): 1 files, "), "\(line)")
        #expect(line.contains("; 6 waiting: customers' files are downloaded only with an access token"), "\(line)")
        #expect(report.failures == 0)
    }
}
