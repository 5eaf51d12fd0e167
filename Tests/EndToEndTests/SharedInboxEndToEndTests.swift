import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// An OpenSSH server on a free loopback port with a host key and an authorized key of its
/// own, for the current user: agents log in with `ssh -t` as they would on a real server.
struct SSHServer {
    let folder: URL
    let port: Int
    let clientKey: String
    let user: String

    /// Starts sshd in the foreground (`-D`), so that `scope` owns it and its process group.
    static func start(in directory: URL, scope: ProcessScope) async throws -> SSHServer {
        let sshd = try requireTool("/usr/sbin/sshd", package: "openssh-server")
        let keygen = try requireTool("/usr/bin/ssh-keygen", package: "openssh-client")
        _ = try requireTool("/usr/bin/ssh", package: "openssh-client")
        let folder = directory.appendingPathComponent("ssh")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in ["host_key", "client_key"] {
            let made = try runCommand(keygen, ["-q", "-t", "ed25519", "-N", "", "-C", "wabox-test",
                                               "-f", folder.appendingPathComponent(name).path])
            try #require(made.status == 0, "ssh-keygen failed: \(made.stderr)")
        }
        try FileManager.default.copyItem(at: folder.appendingPathComponent("client_key.pub"),
                                         to: folder.appendingPathComponent("authorized_keys"))
        // sshd insists on its privilege separation folder, which a fresh machine may lack.
        try? FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let user = String(cString: getpwuid(getuid())!.pointee.pw_name)
        let log = folder.appendingPathComponent("sshd.log")
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<60_000)
            let config = folder.appendingPathComponent("sshd_config")
            try """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(folder.path)/host_key
                AuthorizedKeysFile \(folder.path)/authorized_keys
                PidFile none
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PubkeyAuthentication yes
                PermitRootLogin prohibit-password
                PrintMotd no
                PrintLastLog no
                LogLevel ERROR

                """.write(to: config, atomically: true, encoding: .utf8)
            let process = try scope.start(sshd, ["-D", "-f", config.path, "-E", log.path], logFile: log)
            let server = SSHServer(folder: folder, port: port,
                                   clientKey: folder.appendingPathComponent("client_key").path, user: user)
            if try await waitUntil(timeout: 10, { canConnect(port: port) || !process.isRunning }), process.isRunning {
                return server
            }
            await process.stop()
        }
        throw Fixtures.FixtureError(description: "sshd did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    private static func canConnect(port: Int) -> Bool {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// The shell command that logs in with a terminal and runs `remote` there.
    func login(running remote: String) -> String {
        "ssh -t -p \(port) -i \(clientKey) -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null " +
            "-o LogLevel=ERROR -o BatchMode=yes \(user)@127.0.0.1 '\(remote)'"
    }
}

/// A team's setup: `wabox serve` holds the listener; two agents log in over SSH and run
/// `wabox` in their own terminals against the same database.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SharedInboxEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let socket = "wabox-ssh-\(UUID().uuidString.prefix(8))"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-shared")
    }

    private func tmux(_ arguments: String...) throws -> CommandResult {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments)
    }

    private func screen(_ agent: String) throws -> String { try TmuxPane(socket: socket, target: agent).screen() }

    @discardableResult
    private func waitForScreen(_ agent: String, _ what: String, timeout: Double = 15,
                               _ condition: (String) -> Bool) async throws -> String {
        try await TmuxPane(socket: socket, target: agent).waitForScreen(what, timeout: timeout, condition)
    }

    /// Starts an agent's terminal: ssh into this machine and run wabox there.
    private func startAgent(_ name: String, ssh: SSHServer, term: String, lang: String?, in scope: ProcessScope) throws {
        let remote = [
            "env -i PATH=/usr/bin:/bin HOME=\(directory.path) TERM=\(term)", lang.map { "LANG=\($0)" } ?? "",
            "XDG_CONFIG_HOME=\(directory.path)/config XDG_STATE_HOME=\(directory.path)/state-\(name)",
            "\(try waboxBinary()) --agent \(name) --db \(databasePath)",
        ].joined(separator: " ")
        let command = ssh.login(running: remote) + "; echo \"ssh exited with $?\"; sleep 60"
        try scope.tmux(socket: socket).newSession(name, width: 100, height: 24, command: command)
    }

    private func post(_ body: Data, port: Int) throws -> String {
        try postSigned(body, port: port, via: directory)
    }

    /// Process ids whose command line holds `--agent name`.
    private func agentProcesses(_ name: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard arguments.first?.hasSuffix("/wabox") == true,
                  let index = arguments.firstIndex(of: "--agent"), arguments.indices.contains(index + 1),
                  arguments[index + 1] == name else { return nil }
            return pid
        }
    }

    @Test func twoAgentsOverSSHWorkOneInboxBesideTheDaemon() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            // The agents' wabox runs under sshd's sessions, outside every group the scope
            // knows: it is found by the test's folder on its command line.
            scope.alsoStopProcesses(mentioning: directory.path)
            let (serve, port) = try await startServe(in: scope)
            let ssh = try await SSHServer.start(in: directory, scope: scope)

            // A second daemon on the same database is refused, and says who holds it.
            let second = try runCommand(try waboxBinary(), ["serve", "--db", databasePath, "--listen", "127.0.0.1:0"],
                                        environment: environment)
            #expect(second.status != 0)
            #expect(second.stderr.contains("wabox serve (pid \(serve.pid)"), "\(second.stderr)")

            // Alice on a UTF-8 xterm; Bob on screen-256color with no locale at all, as many SSH
            // setups are; Carol on the Linux console and Dan inside tmux look in too.
            try startAgent("alice", ssh: ssh, term: "xterm-256color", lang: "C.UTF-8", in: scope)
            try startAgent("bob", ssh: ssh, term: "screen-256color", lang: nil, in: scope)
            try startAgent("carol", ssh: ssh, term: "linux", lang: "C.UTF-8", in: scope)
            try startAgent("dan", ssh: ssh, term: "tmux-256color", lang: "C.UTF-8", in: scope)
            for agent in ["alice", "bob", "carol", "dan"] {
                try await waitForScreen(agent, "the screen to attach to the daemon") {
                    $0.contains("via wabox serve") && $0.contains("127.0.0.1:\(port)") && $0.contains(agent)
                }
        }
        // Carol and Dan leave with q; their shells report a clean exit.
        for agent in ["carol", "dan"] {
            _ = try tmux("send-keys", "-t", agent, "q")
            try await waitForScreen(agent, "wabox to exit") { $0.contains("ssh exited with 0") }
        }

        // A customer writes: both screens show it, with no key pressed.
        let builder = WebhookBuilder()
        let customer = SimulatedCustomer(name: "Inês Araújo", waID: "351912345678")
        #expect(try post(builder.message(from: customer, .text("Olá, a minha encomenda?")), port: port) == "200")
        for agent in ["alice", "bob"] {
            try await waitForScreen(agent, "the new conversation") { $0.contains("Inês Araújo") && $0.contains("(1)") }
        }

        // Alice's terminal shrinks: the list becomes a screen of its own.
        _ = try tmux("resize-window", "-t", "alice", "-x", "50", "-y", "16")
        try await waitForScreen("alice", "the narrow layout") { screen in
            screen.contains("Inês Araújo") && !screen.contains("│")
        }
        _ = try tmux("resize-window", "-t", "alice", "-x", "100", "-y", "24")
        try await waitForScreen("alice", "the wide layout again") { $0.contains("│") && $0.contains("Inês Araújo") }

        // Every login here is one Unix account (the test's own), so the four screens are one
        // agent whatever --agent says: Alice's claim is that account's, on Bob's screen too,
        // and reading is the account's. (Two accounts: AgentIdentityEndToEndTests.)
        _ = try tmux("send-keys", "-t", "alice", "a")
        try await waitForScreen("bob", "the account's claim") { screen in
            screen.components(separatedBy: "\n").contains { $0.contains("Inês Araújo") && $0.contains(ssh.user.prefix(4)) }
        }
        _ = try tmux("send-keys", "-t", "alice", "Enter")
        _ = try tmux("send-keys", "-t", "alice", "-l", "Bom dia Inês")
        try await waitForScreen("alice", "her unread count to clear") { !$0.contains("(1)") }
        try await waitForScreen("bob", "the account's unread count to clear") { !$0.contains("(1)") }

        // Bob's connection drops: his wabox ends, the daemon goes on.
        #expect(!agentProcesses("bob").isEmpty)
        _ = try tmux("kill-session", "-t", "bob")
        // A loaded machine may take a while to end it; never ending is the failure.
        let bobGone = try await waitUntil(timeout: 60) { agentProcesses("bob").isEmpty }
        #expect(bobGone, "bob's wabox still runs after his connection dropped")
        let later = SimulatedCustomer(name: "Kofi Mensah", waID: "233241234567")
        #expect(try post(builder.message(from: later, .text("Hello, anyone there?")), port: port) == "200")
        try await waitForScreen("alice", "the next customer") { $0.contains("Kofi Mensah") }

        // Alice sends her reply and quits; nothing of her typing is left behind.
        _ = try tmux("send-keys", "-t", "alice", "Enter")
        _ = try tmux("send-keys", "-t", "alice", "Escape")
        _ = try tmux("send-keys", "-t", "alice", "q")
        try await waitForScreen("alice", "wabox to exit") { $0.contains("ssh exited with 0") }

        #expect(await serve.stop() == 0)
        let database = try InboxDatabase(path: databasePath)
        #expect(try database.integrityCheck() == "ok")
        let conversations = try database.conversations(viewer: Viewer(agent: ssh.user, nowMilliseconds: 0)).items
        #expect(Set(conversations.compactMap(\.contact.name)) == ["Inês Araújo", "Kofi Mensah"])
        let ines = try #require(conversations.first { $0.contact.name == "Inês Araújo" })
        #expect(ines.assignee == ssh.user)
        #expect(ines.lastMessage?.agent == ssh.user)
        #expect(ines.typing.isEmpty)
        #expect(ines.lastMessage?.content.text == "Bom dia Inês")
        #expect(try database.currentLease() == nil)
        }
    }

    @Test func aSecondEmbeddedInboxAttachesToTheFirstInsteadOfFightingForThePort() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withProcesses { scope in
            func start(_ agent: String) throws {
                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state-\(agent)" \
                    WABOX_APP_SECRET="\(Fixtures.appSecret)" WABOX_VERIFY_TOKEN="\(Fixtures.verifyToken)" \
                    "\(try waboxBinary())" --agent \(agent) --listen 127.0.0.1:0 --db "\(databasePath)"; \
                    echo "wabox exited with $?"; sleep 30
                    """
                try scope.tmux(socket: socket).newSession(agent, width: 100, height: 24, command: command)
            }
            try start("alice")
            let first = try await waitForScreen("alice", "the embedded listener") {
                $0.range(of: #"● 127\.0\.0\.1:\d+"#, options: .regularExpression) != nil
            }
            try start("bob")
            // Both run as the test's account: the lease names the account, not --agent.
            let account = InboxDatabase.sessionAccount()
            let second = try await waitForScreen("bob", "bob's screen to attach to alice's") { $0.contains("via \(account)'s wabox") }
            let address = try #require(first.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression).map { String(first[$0]) })
            #expect(second.contains(address))
            let port = try #require(Int(address.split(separator: ":")[1]))

            // What reaches Alice's listener shows on Bob's screen too.
            let customer = SimulatedCustomer(name: "Mbali Dlamini", waID: "27821234567")
            #expect(try post(WebhookBuilder().message(from: customer, .text("Sawubona")), port: port) == "200")
            try await waitForScreen("bob", "the message on the attached screen") { $0.contains("Mbali Dlamini") }
            // A reply from the phone app, then its delivered tick: the attached screen reads
            // what the change feed names, and shows both.
            let echo = WebhookBuilder.newBusinessMessageID()
            #expect(try post(WebhookBuilder().echo(to: customer, .text("Yebo, siyakusiza"), id: echo), port: port) == "200")
            let sent = try await waitForScreen("bob", "the phone app's reply") { $0.contains("Yebo, siyakusiza") }
            #expect(!sent.contains("✓✓"), "not delivered yet:\n\(sent)")
            #expect(try post(WebhookBuilder().status(.delivered, of: echo, to: customer), port: port) == "200")
            try await waitForScreen("bob", "the delivered tick") { $0.contains("Yebo, siyakusiza") && $0.contains("✓✓") }

            // Alice quits: the lease is released, and Bob's screen says the listener is gone.
            _ = try tmux("send-keys", "-t", "alice", "q")
            try await waitForScreen("alice", "alice's wabox to exit") { $0.contains("wabox exited with 0") }
            try await waitForScreen("bob", "the listener gone") { $0.contains("the listener is gone") }
        }
    }

    /// A screen without a token of its own, attached to `wabox serve`: the template picker
    /// offers what the daemon cached, and opening a conversation queues a read receipt that
    /// the daemon sends.
    @Test func anAttachedScreenUsesTheDaemonsTemplatesAndSendsReceiptsThroughIt() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fake = FakeCloudAPI(accessToken: "daemon-token-5151")
        fake.addTemplates([.init(id: "1", name: "order_update", language: "en_US",
                                 body: "Hello {{1}}, your order {{2}} is on its way.")])
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                var daemon = environment
                daemon["WABOX_ACCESS_TOKEN"] = "daemon-token-5151"
                daemon["WABOX_PHONE_NUMBER_ID"] = "106540352242922"
                daemon["WABOX_WABA_ID"] = "102290129340398"
                daemon["WABOX_GRAPH_URL"] = graphURL
                let (serve, port) = try await startServe(in: scope, environment: daemon)
                let fetched = try await waitUntil(timeout: 20) { fake.requests.contains { $0.path.contains("message_templates") } }
                try #require(fetched, "wabox serve never fetched the templates:\n\(serve.log)")
                let builder = WebhookBuilder()
                let ana = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                let kenji = SimulatedCustomer(name: "Kenji Sato", waID: "819012345678")
                #expect(try post(builder.message(from: kenji, .text("まだですか？"),
                                                 timestamp: Int64(Date().timeIntervalSince1970) - 3 * 86_400), port: port) == "200")
                #expect(try post(builder.message(from: ana, .text("Oi! Meu pedido?")), port: port) == "200")

                let command = """
                    env -i PATH="$PATH" HOME="\(directory.path)" TERM=xterm-256color LANG=C.UTF-8 \
                    XDG_CONFIG_HOME="\(directory.path)/config" XDG_STATE_HOME="\(directory.path)/state-alice" \
                    "\(try waboxBinary())" --agent alice --db "\(databasePath)"; echo "wabox exited with $?"; sleep 30
                    """
                let tmux = try scope.tmux(socket: socket)
                try tmux.newSession("alice", width: 100, height: 24, command: command)
                try await waitForScreen("alice", "the attached screen") { $0.contains("via wabox serve") && $0.contains("Ana Lima") }

                // Ana is on top: opening her conversation queues the receipt; the daemon sends it.
                try tmux.run(["send-keys", "-t", "alice", "Enter"])
                try await waitForScreen("alice", "Ana's thread") { $0.contains("Meu pedido?") && $0.contains("window 23h") }
                let receipt = try await waitUntil(timeout: 20) {
                    fake.messageRequests.contains { String(decoding: $0.body, as: UTF8.self).contains(#""status":"read""#) }
                }
                #expect(receipt, "no read receipt reached the Cloud API through wabox serve")
                #expect(fake.messageRequests.allSatisfy { $0.authorization == "Bearer daemon-token-5151" })

                // Kenji's window is closed: the picker offers the daemon's cached template.
                try tmux.run(["send-keys", "-t", "alice", "Escape"])
                try tmux.run(["send-keys", "-t", "alice", "/"])
                try await waitForScreen("alice", "the filter line") { $0.contains("/") && $0.contains("Kenji Sato") }
                try tmux.run(["send-keys", "-t", "alice", "-l", "kenji"])
                try await waitForScreen("alice", "the filter") { $0.contains("/kenji") }
                try tmux.run(["send-keys", "-t", "alice", "Enter"])
                try await waitForScreen("alice", "Kenji on the first row") {
                    $0.components(separatedBy: "\n").dropFirst().first?.contains("Kenji Sato") == true
                }
                try tmux.run(["send-keys", "-t", "alice", "Enter"])
                try await waitForScreen("alice", "Kenji's thread") { $0.contains("まだですか？") && !$0.contains("Enter to write a reply") }
                try tmux.run(["send-keys", "-t", "alice", "-l", "hello"])
                try tmux.run(["send-keys", "-t", "alice", "Enter"])
                try await waitForScreen("alice", "the template picker") { $0.contains("order_update (en_US)") }
                try tmux.run(["send-keys", "-t", "alice", "C-c"])
                try await waitForScreen("alice", "wabox to exit") { $0.contains("wabox exited with 0") }
                #expect(await serve.stop() == 0)
            }
        }
    }

}
