import CloudAPI
import Foundation
import InboxServices
import InboxStore
import InboxTesting
import Logging
import ServiceLifecycle
import Simulator
import Testing
import WebhookServer

private func textBody(_ id: String) -> Data {
    Data("""
        {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
          "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
          "contacts":[{"profile":{"name":"Customer"},"wa_id":"33611111111"}],
          "messages":[{"from":"33611111111","id":"\(id)","timestamp":"1764400000","type":"text","text":{"body":"hi"}}]}}]}]}
        """.utf8)
}

private func journal(_ count: Int, _ run: String, in database: InboxDatabase) throws {
    _ = try database.appendToJournalSync((0..<count).map {
        JournalEntry(receivedAt: 1_764_500_000, body: textBody("wamid.\(run).\($0)"))
    })
}

/// This test process as a lease holder judges itself alive (its process name is not `wabox`).
private func thisProcess() throws -> LeaseHolder {
    let name = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    return LeaseHolder(processName: name)
}

/// Read your writes: `export` first makes the inbox current, by the listener's applier
/// when a live listener holds the lease on that very file, else by applying it itself.
@Suite struct CurrentInboxTests {
    @Test func withoutAListenerTheCommandAppliesTheJournalItself() throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try journal(3, "alone", in: temp.database)
        #expect(try temp.database.counts().messages == 0)
        #expect(try CurrentInbox.catchUp(temp.database, onWaiting: { _ in Issue.record("waited with no listener") })
            == .appliedHere(3))
        #expect(try temp.database.counts().messages == 3)
        #expect(try CurrentInbox.catchUp(temp.database) == .alreadyCurrent)
    }

    /// The live holder applies: the command waits for it instead of writing beside it.
    @Test func withALiveListenerTheCommandWaitsForItsApplier() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let holder = try thisProcess()
        #expect(try await temp.database.acquireLease(holder.lease(role: .serve, agent: nil, address: nil, sending: false),
                                                     isAlive: holder.isAlive) == .acquired)
        try journal(5, "live", in: temp.database)
        // The command opens the file on its own, as `wabox export` does.
        let command = try InboxDatabase(path: temp.path)
        var waitedFor: ListenerLease?
        let outcome = try CurrentInbox.catchUp(command, holder: holder, onWaiting: { lease in
            waitedFor = lease
            // Meanwhile the listener's applier does its work.
            _ = try? temp.database.applyWholeJournal()
        })
        #expect(outcome == .appliedByListener)
        #expect(waitedFor?.pid == holder.pid)
        #expect(try command.counts().messages == 5)
    }

    /// A backup copy carries its original's lease row, whose holder applies the original
    /// only: a command on the copy applies the copy's journal itself, without waiting.
    @Test func aCopysLeaseRowDoesNotCount() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let holder = try thisProcess()
        #expect(try await temp.database.acquireLease(holder.lease(role: .serve, agent: nil, address: nil, sending: false),
                                                     isAlive: holder.isAlive) == .acquired)
        try journal(4, "copied", in: temp.database)
        let copyPath = temp.directory.appendingPathComponent("backup.sqlite").path
        try backUpDatabase(at: temp.path, to: copyPath)
        let copy = try InboxDatabase(path: copyPath)
        #expect(try copy.currentLease()?.pid == holder.pid)
        let outcome = try CurrentInbox.catchUp(copy, holder: holder, onWaiting: { _ in
            Issue.record("waited for the original's listener on a copy")
        })
        #expect(outcome == .appliedHere(4))
        #expect(try copy.counts().messages == 4)
        #expect(try temp.database.counts().messages == 0)
    }

    /// A lease holder without a listener still applies what the journal holds (a crash
    /// left it), first thing when it starts.
    @Test func aLeaseHolderWithoutAListenerAppliesTheJournalAtStart() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        try journal(30, "startup", in: temp.database)
        let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let fake = FakeCloudAPI(accessToken: "startup-token-123456")
        try await fake.withRunning { graph in
            var serve = ServiceAssembly.Configuration(role: .serve)
            serve.client = GraphCloudClient(configuration: .init(graphURL: graph, graphVersion: "v26.0",
                                                                 accessToken: "startup-token-123456"), logger: quiet)
            let assembly = try await ServiceAssembly.assemble(serve, database: temp.database, logger: quiet)
            #expect(assembly.services.contains { $0 is JournalApplierService })
            let group = ServiceGroup(configuration: .init(services: assembly.services, logger: quiet))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                let applied = try await waitUntil { try temp.database.journalProgress().lag == 0 }
                #expect(applied, "not applied at start: \(String(describing: try? temp.database.journalProgress()))")
                #expect(try temp.database.counts().messages == 30)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
    }
}

/// `journal_retention`: days by default, a unit when given, 0 for forever, clear refusals.
@Suite struct JournalRetentionTests {
    @Test func valuesAndRefusals() throws {
        #expect(try JournalRetention.parse(nil).get() == .seconds(30 * 86_400))
        #expect(try JournalRetention.parse("7").get() == .seconds(7 * 86_400))
        #expect(try JournalRetention.parse("36h").get() == .seconds(36 * 3_600))
        #expect(try JournalRetention.parse(" 90M ").get() == .seconds(90 * 60))
        #expect(try JournalRetention.parse("0").get() == nil)
        #expect(try JournalRetention.parse("0d").get() == nil)
        for text in ["", "forever", "-1", "3w", "1.5d", "d", "٣"] {
            guard case .failure(let problem) = JournalRetention.parse(text) else {
                Issue.record("\(text) was taken as a retention")
                continue
            }
            #expect(problem.description.contains("journal_retention is \"\(text)\""))
            #expect(problem.description.contains("0 to keep every webhook body forever"))
        }
        #expect(JournalRetention.value(of: "0") == nil)
        #expect(JournalRetention.value(of: "nonsense") == JournalRetention.default)
    }
}
