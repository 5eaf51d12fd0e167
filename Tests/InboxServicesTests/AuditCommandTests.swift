import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import Synchronization
import Testing

/// `wabox audit`'s lines, `audit_retention`, and what `doctor` says about identity and who
/// can write the trail.
@Suite struct AuditCommandTests {
    private let now: Int64 = 1_764_500_000

    @Test func aLineSaysWhenWhoWhatAndWithWhom() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        _ = try await temp.database.ingest(Fixtures.webhook("text"))
        let ana = try #require(try temp.database.conversations().items.first?.id)
        let bob = try temp.open(as: "bob", displayName: "alice")
        try await bob.enqueueOutbound(in: ana, content: .text(body: "Bom dia\nAna"), localID: "l-1", at: now)
        try await bob.enqueueReaction(in: ana, to: "w.ana", emoji: "👍", localID: "l-2", at: now + 1)
        _ = try await bob.claim(ana, at: now + 2)
        try await bob.toggleLabel("vip", on: ana, at: now + 3)
        try await bob.saveCannedReply(CannedReply(name: "hi", text: "Oi"), at: now + 4)
        try await bob.addNote(to: ana, text: "\u{1B}[31mred", at: now + 5)
        var lines: [String] = []
        try temp.database.auditTrail { lines.append(AuditListing.line($0)) }
        #expect(lines == [
            #"2025-11-30T10:53:20Z  bob (alice)  send text "Bom dia\nAna"  Amélie Laurent +33612345678"#,
            "2025-11-30T10:53:21Z  bob (alice)  send reaction 👍 on w.ana  Amélie Laurent +33612345678",
            "2025-11-30T10:53:22Z  bob (alice)  claim  Amélie Laurent +33612345678",
            "2025-11-30T10:53:23Z  bob (alice)  label_add vip  Amélie Laurent +33612345678",
            #"2025-11-30T10:53:24Z  bob (alice)  reply_add /hi "Oi""#,
            // Words from the trail are sanitised before a terminal sees them.
            "2025-11-30T10:53:25Z  bob (alice)  note \"\(TerminalText.sanitize("\u{1B}[31mred"))\"  Amélie Laurent +33612345678",
        ])
    }

    @Test func sinceTakesADuration() throws {
        #expect(try AuditListing.parseSince("90m").get() == .seconds(5_400))
        #expect(try AuditListing.parseSince("7d").get() == .seconds(7 * 86_400))
        #expect(try AuditListing.parseSince("2").get() == .seconds(2 * 86_400))
        #expect(try AuditListing.parseSince("0").get() == nil)
        let problem = #expect(throws: CommandOutput.Failure.self) { try AuditListing.parseSince("yesterday").get() }
        #expect(problem?.description.hasPrefix(#"--since is "yesterday"; give a number of days (30), or a number with d, h, m or s"#)
                == true, "\(String(describing: problem))")
    }

    @Test func auditRetentionDefaultsToForever() throws {
        #expect(try AuditRetention.parse(nil).get() == nil)
        #expect(try AuditRetention.parse("0").get() == nil)
        #expect(try AuditRetention.parse("365d").get() == .seconds(365 * 86_400))
        #expect(SettingChecks.problem(in: ["audit_retention": "a year"])?
            .hasPrefix(#"audit_retention is "a year"; give a number of days"#) == true)
        #expect(SettingChecks.problem(in: ["audit_retention": "400"]) == nil)
        #expect(SettingChecks.problem(in: ["agent": "two words"])?.contains("only shown beside your account") == true)
    }

    // MARK: - doctor

    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    private func doctor(folderMode: Int, fileMode: Int? = nil, displayName: String? = nil)
        throws -> (lines: [String], report: DoctorReport) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-trail-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("inbox.sqlite").path
        if let fileMode {
            FileManager.default.createFile(atPath: path, contents: nil)
            try FileManager.default.setAttributes([.posixPermissions: fileMode], ofItemAtPath: path)
        }
        try FileManager.default.setAttributes([.posixPermissions: folderMode], ofItemAtPath: folder.path)
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkIdentity(databasePath: path, displayName: displayName, account: "bob", &report)
        return (lines.all, report)
    }

    @Test func doctorNamesTheIdentityAndWhoElseCanWriteTheTrail() throws {
        let alone = try doctor(folderMode: 0o700, fileMode: 0o600, displayName: "alice")
        #expect(alone.lines.first == """
            ✓ identity    this session acts as account bob (its login), shown to the others as bob (alice): every reply, \
            note, claim and label is recorded under it; --agent, WABOX_AGENT and agent only set the name shown beside it
            """)
        #expect(alone.lines.last?.hasPrefix("✓ audit trail only account bob can write") == true, "\(alone.lines)")
        #expect(alone.report.failures == 0 && alone.report.warnings == 0)

        // A shared inbox: the group writes the file, so the trail is as good as the group.
        let shared = try doctor(folderMode: 0o2770, fileMode: 0o660)
        let groupName = String(cString: getgrgid(getgid())!.pointee.gr_name)
        #expect(shared.report.warnings == 1 && shared.report.failures == 0)
        let line = try #require(shared.lines.last)
        #expect(line.hasPrefix("! audit trail group \(groupName)"), "\(line)")
        #expect(line.contains("can write the database directly, not only through wabox"), "\(line)")
        #expect(line.hasSuffix("the audit trail is only as good as these permissions (root can always write it)"), "\(line)")

        let everyone = try doctor(folderMode: 0o777, fileMode: 0o666)
        #expect(everyone.report.failures == 1)
        #expect(everyone.lines.last?.contains("every account on this machine can write") == true, "\(everyone.lines)")
        #expect(everyone.lines.last?.contains("chmod o-w") == true)
    }
}
