import CloudAPI
import Crypto
import Foundation
import InboxCore
import InboxServices
import InboxStore
import InboxTesting
import Logging
import ServiceLifecycle
import Simulator
import Testing
import WebhookServer

/// The services assembly that `serve`, the inbox and `demo` share, run in-process.
@Suite struct ServiceAssemblyTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func listener(port: Int = 0) -> WebhookConfiguration {
        WebhookConfiguration(host: "127.0.0.1", port: port, verifyToken: Fixtures.verifyToken, appSecret: Fixtures.appSecret)
    }

    @Test func serveRefusesBesideALiveHolderAndAScreenAttaches() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        // A live process of another name holds the lease: `sleep`, started for the test.
        try await withProcesses { scope in
            let other = try scope.start("/bin/sleep", ["120"], logFile: temp.directory.appendingPathComponent("sleep.log"))
            // `sleep` holds the lease; a holder named `sleep` judges it alive by its process.
            let holder = LeaseHolder(processName: "sleep")
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let theirs = ListenerLease(pid: other.pid, host: holder.host, role: .serve, agent: nil, address: "127.0.0.1:9999",
                                       sending: true, startedAt: now, heartbeatAt: now)
            #expect(try await temp.database.acquireLease(theirs, isAlive: { _ in false }) == .acquired)

            var serve = ServiceAssembly.Configuration(role: .serve)
            serve.listener = listener()
            serve.holder = holder
            await #expect(throws: ServiceAssembly.ListenerHeld.self) {
                _ = try await ServiceAssembly.assemble(serve, database: temp.database, logger: quiet)
            }

            var inbox = ServiceAssembly.Configuration(role: .inbox)
            inbox.listener = listener()
            inbox.agent = "alice"
            inbox.holder = holder
            let attached = try await ServiceAssembly.assemble(inbox, database: temp.database, logger: quiet)
            #expect(attached.attachedTo?.pid == other.pid)
            #expect(attached.status.current.address == "127.0.0.1:9999")
            #expect(attached.status.current.isUp)
            // Attached: no listener, no lease keeper, only the status poller.
            #expect(attached.services.count == 1)
            #expect(attached.services.first is StatusPoller)

            // Once the holder is gone the next screen takes the lease and listens itself.
            // SIGKILL: the test runner's children inherit a signal mask that may hold SIGTERM.
            await other.stop(signal: SIGKILL)
            let embedded = try await ServiceAssembly.assemble(inbox, database: temp.database, logger: quiet)
            #expect(embedded.attachedTo == nil)
            #expect(embedded.services.count == 3)  // lease keeper, listener, status poller
            #expect(try temp.database.currentLease()?.pid == getpid())
            #expect(try temp.database.currentLease()?.agent == "alice")
        }
    }

    /// `serve` as it runs: the listener on a free port takes a signed webhook, and the
    /// lease is released once the services stop.
    @Test func serveListensStoresAndReleasesTheLease() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var serve = ServiceAssembly.Configuration(role: .serve)
        serve.listener = listener()
        serve.onListening = { continuation.yield($0) }
        let assembly = try await ServiceAssembly.assemble(serve, database: temp.database, logger: quiet)
        #expect(!assembly.services.contains { $0 is StatusPoller })
        let group = ServiceGroup(configuration: .init(services: assembly.services, logger: quiet))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(try temp.database.currentLease()?.address == "127.0.0.1:\(port)")
            let poster = WebhookPoster(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret)
            let answer = await poster.post(try Fixtures.data("text"))
            #expect(answer.status == 200, "\(answer)")
            // Journaled before the answer, applied just after by the listener's applier.
            let applied = try await waitUntil { try temp.database.counts().messages == 1 }
            #expect(applied, "not applied: \(String(describing: try? temp.database.journalProgress()))")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(try temp.database.currentLease() == nil)
    }

    @Test func nothingToRunTakesNoLease() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        var inbox = ServiceAssembly.Configuration(role: .inbox)
        inbox.initialProblem = "listener off"
        let assembly = try await ServiceAssembly.assemble(inbox, database: temp.database, logger: quiet)
        #expect(assembly.attachedTo == nil)
        #expect(assembly.status.current.problem == "listener off")
        #expect(assembly.status.current.sending != .on)
        #expect(try temp.database.currentLease() == nil)
    }

    /// The lease holder downloads a customer's photo in the background: the webhook is
    /// answered at once, the file lands in the media folder shortly after.
    @Test func theLeaseHolderDownloadsMediaBehindTheListener() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        let photo = Data((0..<5_000).map { UInt8($0 % 253) })
        let fake = FakeCloudAPI(accessToken: "media-token-123456")
        fake.addMedia(id: "7001", mimeType: "image/jpeg", bytes: photo)
        let digest = Data(SHA256.hash(data: photo)).base64EncodedString()
        let body = Data("""
            {"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{\
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},\
            "contacts":[{"profile":{"name":"Wang Fang"},"wa_id":"8613800138000"}],\
            "messages":[{"from":"8613800138000","id":"wamid.PHOTO.1","timestamp":"\(Int(Date().timeIntervalSince1970))",\
            "type":"image","image":{"id":"7001","mime_type":"image/jpeg","sha256":"\(digest)"}}]}}]}]}
            """.utf8)
        let media = temp.directory.appendingPathComponent("media").path
        try await fake.withRunning { graph in
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            var serve = ServiceAssembly.Configuration(role: .serve)
            serve.listener = listener()
            serve.onListening = { continuation.yield($0) }
            serve.client = GraphCloudClient(configuration: .init(graphURL: graph, graphVersion: "v26.0",
                                                                 accessToken: "media-token-123456"), logger: quiet)
            serve.media = .init(directory: media, idlePoll: .milliseconds(50))
            let assembly = try await ServiceAssembly.assemble(serve, database: temp.database, logger: quiet)
            #expect(assembly.services.contains { $0 is MediaDownloader })
            let group = ServiceGroup(configuration: .init(services: assembly.services, logger: quiet))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let answer = await WebhookPoster(url: "http://127.0.0.1:\(port)/webhook", appSecret: Fixtures.appSecret).post(body)
                #expect(answer.status == 200)
                let applied = try await waitUntil { try temp.database.message("wamid.PHOTO.1") != nil }
                try #require(applied, "not applied: \(String(describing: try? temp.database.journalProgress()))")
                let rowID = try #require(try temp.database.message("wamid.PHOTO.1")?.rowID)
                let ready = try await waitUntil(timeout: 20) { try temp.database.media(ofMessage: rowID)?.state == .ready }
                #expect(ready, "\(String(describing: try? temp.database.media(ofMessage: rowID)))")
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
        #expect(FileManager.default.contents(atPath: "\(media)/\(MediaDigest.hex(of: photo))") == photo)
    }
}
