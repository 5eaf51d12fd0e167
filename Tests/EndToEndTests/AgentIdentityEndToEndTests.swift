import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Simulator
import Testing

/// Two Unix accounts in a group of their own, made for one test (as root) and removed after it.
struct TestAccounts {
    let group: String
    let first: String
    let second: String

    /// `groupadd`, then `useradd` of both accounts with that group and a home of their own.
    static func create() throws -> TestAccounts {
        let useradd = try requireTool("/usr/sbin/useradd", package: "passwd")
        let groupadd = try requireTool("/usr/sbin/groupadd", package: "passwd")
        let tag = String(Int.random(in: 10_000...99_999))
        let accounts = TestAccounts(group: "wbg\(tag)", first: "wba\(tag)", second: "wbb\(tag)")
        let made = try runCommand(groupadd, [accounts.group])
        try #require(made.status == 0, "groupadd \(accounts.group) failed: \(made.stderr)")
        for name in [accounts.first, accounts.second] {
            let user = try runCommand(useradd, ["--create-home", "--gid", accounts.group, "--shell", "/bin/sh", name])
            if user.status != 0 {
                accounts.remove()
                try #require(user.status == 0, "useradd \(name) failed: \(user.stderr)")
            }
        }
        return accounts
    }

    func home(_ name: String) -> String { getpwnam(name).map { String(cString: $0.pointee.pw_dir) } ?? "/home/\(name)" }

    /// Ends what still runs under either account (by process id) and waits for it to be
    /// gone, then `userdel -r` both and `groupdel` the group; a removal that fails is
    /// recorded, so that a leftover account never goes unnoticed.
    func remove() {
        let uids = Set([first, second].compactMap { (name: String) in getpwnam(name)?.pointee.pw_uid })
        func running() -> [pid_t] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
                guard let pid = pid_t(entry),
                      let owner = try? FileManager.default.attributesOfItem(atPath: "/proc/\(entry)")[.ownerAccountID] as? NSNumber,
                      uids.contains(owner.uint32Value) else { return nil }
                return pid
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while !running().isEmpty, Date() < deadline {
            for pid in running() { kill(pid, SIGKILL) }
            usleep(50_000)
        }
        for name in [first, second] where getpwnam(name) != nil {
            let removed = try? runCommand("/usr/sbin/userdel", ["--remove", name])
            if getpwnam(name) != nil {
                Issue.record("userdel --remove \(name) failed, remove it by hand: \(removed?.stderr ?? "")")
            }
        }
        if getgrnam(group) != nil, (try? runCommand("/usr/sbin/groupdel", [group]))?.status != 0 {
            Issue.record("groupdel \(group) failed: remove it by hand")
        }
    }
}

/// The identity promise with two real accounts against one `wabox serve`: the second sets
/// `WABOX_AGENT` (and `USER`) to the first one's name, and still appears as itself on both
/// screens, in `export` and in `audit`, where every kind of action carries its account.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AgentIdentityEndToEndTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]
    let socket = "wabox-id-\(UUID().uuidString.prefix(8))"
    let accessToken = "e2e-identity-token-7c1d"

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-identity")
    }

    private func pane(_ name: String) -> TmuxPane { TmuxPane(socket: socket, target: name) }

    @discardableResult
    private func waitFor(_ name: String, _ what: String, timeout: Double = 20, _ condition: (String) -> Bool) async throws
        -> String {
        try await pane(name).waitForScreen(what, timeout: timeout, condition)
    }

    /// `wabox ARGUMENTS` run as `account` through runuser, with a bare environment.
    private func run(as account: String, _ accounts: TestAccounts, binary: String, _ arguments: [String],
                     environment extra: [String: String] = [:]) throws -> CommandResult {
        let home = accounts.home(account)
        let variables = ["PATH=/usr/bin:/bin", "HOME=\(home)", "LANG=C.UTF-8", "XDG_CONFIG_HOME=\(home)/.config",
                         "XDG_STATE_HOME=\(home)/.state"] + extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try runCommand(try requireTool("/usr/sbin/runuser", package: "util-linux"),
                              ["-u", account, "--", "/usr/bin/env", "-i"] + variables + [binary] + arguments)
    }

    /// A screen of `account`'s own: `wabox` started through runuser in a tmux pane.
    private func startScreen(_ account: String, _ accounts: TestAccounts, binary: String, extra: String,
                             in scope: ProcessScope) throws {
        let home = accounts.home(account)
        let command = """
            /usr/sbin/runuser -u \(account) -- /usr/bin/env -i PATH=/usr/bin:/bin HOME=\(home) TERM=xterm-256color \
            LANG=C.UTF-8 XDG_CONFIG_HOME=\(home)/.config XDG_STATE_HOME=\(home)/.state \(extra) \
            \(binary) --db \(databasePath); echo "wabox exited with $?"; sleep 60
            """
        try scope.tmux(socket: socket).newSession(account, width: 100, height: 30, command: command)
    }

    /// A copy of the binary the accounts can run, when the build folder is closed to them.
    private func binary(for accounts: TestAccounts) throws -> String {
        let built = try waboxBinary()
        let check = try runCommand("/usr/sbin/runuser", ["-u", accounts.second, "--", "/usr/bin/test", "-x", built])
        guard check.status != 0 else { return built }
        let copy = directory.appendingPathComponent("bin/wabox")
        try FileManager.default.createDirectory(at: copy.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: built, toPath: copy.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
        return copy.path
    }

    @Test(.enabled(if: getuid() == 0, "skipped: needs root to create two Unix accounts (useradd) and remove them (userdel -r); CI runs as root"))
    func aSecondAccountBorrowingTheFirstOnesNameStillAppearsAsItself() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let accounts = try TestAccounts.create()
        defer { accounts.remove() }
        let (first, second) = (accounts.first, accounts.second)

        // The database folder is the group's (setgid, 2770), as a shared inbox's is; the
        // rest of the workspace is open for reading.
        let data = (databasePath as NSString).deletingLastPathComponent
        for folder in [data, data + "/media"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.groupOwnerAccountName: accounts.group, .posixPermissions: 0o2770],
                                                  ofItemAtPath: folder)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        let outgoing = directory.appendingPathComponent("outgoing")
        try FileManager.default.createDirectory(at: outgoing, withIntermediateDirectories: true)
        let invoice = outgoing.appendingPathComponent("nota-4471.pdf")
        try Data("%PDF-1.4 nota fiscal 4471\n%%EOF\n".utf8).write(to: invoice)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: outgoing.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: invoice.path)
        let binary = try binary(for: accounts)

        let fake = FakeCloudAPI(accessToken: accessToken)
        fake.addTemplates([.init(id: "1", name: "pedido_chegou", language: "pt_BR", body: "Seu pedido chegou.")])
        let graph = ["WABOX_ACCESS_TOKEN": accessToken, "WABOX_PHONE_NUMBER_ID": "106540352242922"]
        try await withProcesses { scope in
            try await fake.withRunning { graphURL in
                var daemon = environment.merging(graph) { $1 }
                daemon["WABOX_WABA_ID"] = "102290129340398"
                daemon["WABOX_GRAPH_URL"] = graphURL
                let (serve, port) = try await startServe(in: scope, environment: daemon)
                try #require(try await waitUntil(timeout: 20) { fake.requests.contains { $0.path.contains("message_templates") } },
                             "wabox serve never fetched the templates:\n\(serve.log)")
                let ana = SimulatedCustomer(name: "Ana Lima", waID: "5511987654321")
                let builder = WebhookBuilder()
                #expect(try postSigned(builder.message(from: ana, .text("Oi! Meu pedido?")), port: port, via: directory) == "200")

                // The second account calls itself the first: WABOX_AGENT, USER and LOGNAME all say so.
                try startScreen(first, accounts, binary: binary, extra: "", in: scope)
                try startScreen(second, accounts, binary: binary,
                                extra: "WABOX_AGENT=\(first) USER=\(first) LOGNAME=\(first)", in: scope)
                for name in [first, second] {
                    try await waitFor(name, "the screen attached to wabox serve") { $0.contains("via wabox serve") && $0.contains("Ana Lima") }
                }
                try await waitFor(second, "its own account first on its status bar") { $0.contains("\(second) (\(first))") }
                try await waitFor(first, "the first account's status bar") { screen in
                    screen.components(separatedBy: "\n").last { !$0.isEmpty }?.contains(" \(first) ·") == true
                }

                // Claim: the first account's screen shows the second's account on Ana's row.
                let me = pane(second)
                try me.press(["a"])
                try await waitFor(first, "the second account's claim on Ana's row") { screen in
                    screen.components(separatedBy: "\n").contains { String($0.prefix(37)).contains(second) }
                }
                // A reaction to Ana's message, a text, reply buttons, a template and a file.
                try me.press(["Enter"])
                try await waitFor(second, "the open thread") { $0.contains("window 23h") }
                try me.press(["Up"])
                try me.press(["+"])
                try await waitFor(second, "the reaction picker") { $0.contains("React — ") }
                try me.press(["Enter"])
                try await waitFor(second, "the reaction under the message") { $0.contains("👍") && !$0.contains("React — ") }
                try me.press(["Escape"])
                try me.type("Bom dia Ana")
                try me.press(["Enter"])
                try await waitFor(second, "the reply in the thread") { $0.contains("Bom dia Ana") && $0.contains("Enter to write a reply") == false }
                try me.type("Chegou?")
                try me.press(["C-b"])
                for title in ["Sim", "Não"] {
                    try me.type(title)
                    try me.press(["Enter"])
                }
                try me.press(["Enter"])
                try await waitFor(second, "the buttons sent") { $0.contains("Chegou?") && $0.contains("[ Sim ]") }
                try me.press(["C-t"])
                try await waitFor(second, "the template picker") { $0.contains("pedido_chegou (pt_BR)") }
                try me.press(["Enter"])
                try await waitFor(second, "the template sent") { $0.contains("Seu pedido chegou.") }
                try me.press(["C-o"])
                try await waitFor(second, "the file prompt") { $0.contains("file:") }
                try me.type(invoice.path)
                try me.press(["Enter"])
                try await waitFor(second, "the file in the thread") { $0.contains("[document: nota-4471.pdf]") }

                // The first account's screen names the second by its account beside every reply it sent.
                try pane(first).press(["Enter"])
                let seen = try await waitFor(first, "the second account's reply") { screen in
                    Self.sender(of: "Bom dia Ana", in: screen)?.hasPrefix(second) == true
                }
                #expect(Self.sender(of: "[ Sim ] [ Não ]", in: seen)?.hasPrefix(second) == true, "\(seen)")
                let own = try pane(second).screen()
                #expect(Self.sender(of: "Bom dia Ana", in: own)?.hasPrefix(second) == true, "\(own)")

                // A note, a label put on and taken off, resolve and reopen, and the claim given back.
                try me.press(["Escape"])
                try me.press(["n"])
                try await waitFor(second, "the note prompt") { $0.contains("note on Ana Lima") }
                try me.type("prometi ligar amanhã")
                try me.press(["Enter"])
                try await waitFor(first, "the note on the other screen") { $0.contains("✎ note · \(second)") && $0.contains("prometi ligar") }
                for expected in ["labelled vip", "label vip taken off"] {
                    try me.press(["L"])
                    try await waitFor(second, "the label prompt") { $0.contains("label for Ana Lima") }
                    try me.type("vip")
                    try me.press(["Enter"])
                    try await waitFor(second, expected) { $0.contains(expected) }
                }
                try me.press(["x"])
                try await waitFor(second, "resolved") { $0.components(separatedBy: "\n")[0].contains("resolved") }
                try me.press(["x"])
                try await waitFor(second, "reopened") { !$0.components(separatedBy: "\n")[0].contains("resolved") }
                try me.press(["a"])
                try await waitFor(second, "the claim given back") { $0.contains("given back: unassigned") }

                // The team's canned replies from the shell (still calling itself the first), and a
                // send from a script by the first account (with the second's USER).
                let borrowed = ["WABOX_AGENT": first, "USER": first, "LOGNAME": first]
                var command = try run(as: second, accounts, binary: binary, ["replies", "--db", databasePath, "add", "oi", "Oi {{name}}!"],
                              environment: borrowed)
                #expect(command.status == 0, "\(command.stderr)")
                command = try run(as: second, accounts, binary: binary, ["replies", "--db", databasePath, "add", "oi", "Olá {{name}}!"],
                              environment: borrowed)
                #expect(command.stdout.hasPrefix("replaced /oi"), "\(command.stdout)\(command.stderr)")
                command = try run(as: second, accounts, binary: binary, ["replies", "--db", databasePath, "remove", "oi"],
                              environment: borrowed)
                #expect(command.status == 0, "\(command.stderr)")
                command = try run(as: first, accounts, binary: binary,
                                  ["send", "--to", "5511987654321", "--text", "Enviado por script", "--db", databasePath],
                                  environment: graph.merging(["WABOX_GRAPH_URL": graphURL, "USER": second]) { $1 })
                #expect(command.status == 0, "wabox send failed: \(command.stderr)")

                // audit: every kind of action, each with the account that did it.
                let audit = try run(as: first, accounts, binary: binary, ["audit", "--format", "jsonl", "--db", databasePath])
                #expect(audit.status == 0, "\(audit.stderr)")
                let entries = try audit.stdout.split(separator: "\n").map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                }
                func kind(_ entry: [String: Any]) -> String {
                    let action = entry["action"] as? String ?? "?"
                    return action == "send" ? "send " + ((entry["detail"] as? [String: Any])?["type"] as? String ?? "?") : action
                }
                let bySecond = entries.filter { $0["account"] as? String == second }
                #expect(Set(bySecond.map(kind)) == [
                    "send reaction", "send text", "send interactive", "send template", "send document", "note", "claim",
                    "release", "resolve", "reopen", "label_add", "label_remove", "reply_add", "reply_edit", "reply_remove",
                ], "\(audit.stdout)")
                #expect(bySecond.allSatisfy { $0["display_name"] as? String == first }, "\(audit.stdout)")
                let byFirst = entries.filter { $0["account"] as? String == first }
                #expect(byFirst.map(kind) == ["send text"], "\(audit.stdout)")
                #expect(entries.count == bySecond.count + byFirst.count, "\(audit.stdout)")
                let lines = try run(as: second, accounts, binary: binary, ["audit", "--agent", second, "--since", "1h", "--db", databasePath])
                let textLines = lines.stdout.split(separator: "\n")
                #expect(textLines.count == bySecond.count, "\(lines.stdout)\(lines.stderr)")
                #expect(textLines.allSatisfy { $0.contains("  \(second) (\(first))  ") }, "\(lines.stdout)")

                // export: the outbound rows name their account; the customer's and older rows none.
                let exported = try run(as: first, accounts, binary: binary,
                                       ["export", "--contact", "5511987654321", "--db", databasePath])
                let records = try exported.stdout.split(separator: "\n").map {
                    try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
                }
                func agent(of text: String) -> Any? { records.first { ($0["text"] as? String)?.contains(text) == true }?["agent"] }
                #expect(agent(of: "Bom dia Ana") as? String == second, "\(exported.stdout)")
                #expect(agent(of: "Enviado por script") as? String == first, "\(exported.stdout)")
                #expect(agent(of: "prometi ligar") as? String == second)
                #expect(agent(of: "Oi! Meu pedido?") is NSNull, "\(exported.stdout)")
                #expect(records.filter { $0["direction"] as? String == "out" }.allSatisfy { $0["agent"] is String })

                // doctor: which identity, and that the group can write the trail's file.
                let doctor = try run(as: second, accounts, binary: binary, ["doctor", "--db", databasePath],
                                     environment: ["WABOX_AGENT": first])
                #expect(doctor.stdout.contains("✓ identity    this session acts as account \(second) (its login), shown to the others as \(second) (\(first))"),
                        "\(doctor.stdout)")
                #expect(doctor.stdout.contains("! audit trail group \(accounts.group)"), "\(doctor.stdout)")

                for name in [first, second] {
                    try pane(name).press(["C-c"])
                    try await waitFor(name, "wabox to exit") { $0.contains("wabox exited with 0") }
                }
                #expect(await serve.stop() == 0)
            }
        }
    }

    /// What the time line right under the last line holding `text` starts with (the sender
    /// of an outbound message): the thread pane only, right of the list's border.
    static func sender(of text: String, in screen: String) -> String? {
        let thread = screen.components(separatedBy: "\n").map { line in
            line.firstIndex(of: "│").map { String(line[line.index(after: $0)...]) } ?? ""
        }
        guard let index = thread.lastIndex(where: { $0.contains(text) }), index + 1 < thread.count else { return nil }
        return thread[index + 1].trimmingCharacters(in: .whitespaces)
    }
}
