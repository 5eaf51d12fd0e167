import Foundation
import InboxTesting
import Testing

/// The README's commands are ones something runs: the cheap ones run here against the debug
/// binary and a test listener on a free loopback port (`--help`, `--version`, `doctor`,
/// `simulate`, `export`), every other one is named in `elsewhere` with what runs it (CI's
/// are checked against .ci/run). Links from the docs to files of the repository exist.
@Suite(.serialized) struct DocsTests: ServeWorkspace {
    let directory: URL
    let databasePath: String
    let environment: [String: String]

    init() throws {
        (directory, databasePath, environment) = try Self.makeWorkspace("wabox-docs")
    }

    static let root = ReferenceDocsTests.root

    /// The markdown files whose links must hold.
    static func markdownFiles() throws -> [String] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return ["README.md", "SECURITY.md", "CHANGELOG.md"] + docs
    }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// A command shown in a ```sh block: its text without the comment, and where it is.
    struct ShownCommand: CustomStringConvertible {
        var text: String
        var line: Int
        var description: String { "README.md line \(line): `\(text)`" }
    }

    /// The lines of the ```sh blocks, comments and blank lines left out.
    static func commands(in markdown: String) -> [ShownCommand] {
        var commands: [ShownCommand] = []
        var inBlock = false
        for (index, line) in markdown.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inBlock = !inBlock && trimmed == "```sh"
                continue
            }
            guard inBlock, !trimmed.hasPrefix("#") else { continue }
            let command = (trimmed.range(of: " #").map { String(trimmed[..<$0.lowerBound]) } ?? trimmed)
                .trimmingCharacters(in: .whitespaces)
            if !command.isEmpty { commands.append(ShownCommand(text: command, line: index + 1)) }
        }
        return commands
    }

    /// Commands this test does not run, with what does (`ci`: a text .ci/run must contain).
    static let elsewhere: [(prefix: String, because: String, ci: String?)] = [
        ("scripts/install-and-run", "installs Debian packages and opens the demo's screen; the end-to-end tests run `wabox demo` in tmux", nil),
        ("swift test", "CI runs it", "\nswift test\n"),
        ("scripts/package", "CI builds the Debian package", "\nscripts/package\n"),
        ("sudo apt install ./dist/wabox_", "CI installs the package it built", "apt-get install -y -qq ./dist/wabox_"),
        ("sudo -u wabox wabox doctor", "CI runs doctor as the package's wabox user", "runuser -u wabox"),
        ("swift build -c release", "scripts/package makes the release build in CI", "\nscripts/package\n"),
        ("sudoedit ", "edits a file as root", nil),
        ("sudo systemctl ", "needs systemd and root", nil),
        ("sudo usermod ", "changes an account", nil),
        ("git clone ", "needs the network", nil),
        ("export ", "sets the environment; this test sets its own", nil),
        ("wabox demo", "takes the terminal; ScreenEndToEndTests run it in tmux", nil),
    ]

    /// What a command to run has after `wabox`, the placeholders made local.
    static func arguments(of command: String, port: Int) -> [String]? {
        var words = shellWords(command.replacingOccurrences(of: "https://your.host/webhook", with: "http://127.0.0.1:\(port)/webhook"))
        guard let first = words.first, first == "wabox" || first.hasSuffix("/wabox") else { return nil }
        words.removeFirst()
        return words
    }

    /// Splits a command line into words, as sh would for plain words and quoted strings.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = [], word = "", quote: Character?, inWord = false
        for character in line {
            if let open = quote {
                if character == open { quote = nil } else { word.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character == " " {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }

    @Test func everyReadmeCommandIsRunHereOrElsewhere() throws {
        // The suite makes a workspace for every test; this one needs none.
        defer { try? FileManager.default.removeItem(at: directory) }
        let ci = try Self.text(".ci/run")
        for entry in Self.elsewhere {
            if let text = entry.ci {
                #expect(ci.contains(text), "DocsTests says CI runs `\(entry.prefix)`, but .ci/run has no \(text.debugDescription)")
            }
        }
        let commands = Self.commands(in: try Self.text("README.md"))
        #expect(commands.contains { $0.text == "swift test" }, "the README no longer shows the test command CI runs")
        for command in commands where Self.arguments(of: command.text, port: 0) == nil || command.text.hasPrefix("wabox demo") {
            #expect(Self.elsewhere.contains { command.text.hasPrefix($0.prefix) },
                    "\(command) is neither run by DocsTests nor in its list of commands run elsewhere (DocsTests.elsewhere)")
        }
    }

    /// The README's `wabox` commands, in its order, against `wabox serve` on a free port.
    @Test func theReadmesWaboxCommandsRun() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let commands = Self.commands(in: try Self.text("README.md")).filter { command in
            Self.arguments(of: command.text, port: 0) != nil && !Self.elsewhere.contains { command.text.hasPrefix($0.prefix) }
        }
        #expect(commands.contains { $0.text.contains("simulate") } && commands.contains { $0.text.contains("export") },
                "the README shows no simulate and export to check a listener with")
        try await withProcesses { scope in
            let (_, port) = try await startServe(in: scope)
            var environment = self.environment
            environment["WABOX_DB"] = databasePath
            environment["WABOX_LISTEN"] = "127.0.0.1:\(port)"
            var simulated = 0
            for command in commands {
                let arguments = try #require(Self.arguments(of: command.text, port: port))
                let result = try runCommand(try waboxBinary(), arguments, environment: environment)
                let output = result.stdout + result.stderr
                switch arguments.first {
                case "doctor":
                    // Without an access token doctor reports problems (1), as in CI.
                    #expect(result.status <= 1, "\(command) exited \(result.status):\n\(output)")
                    #expect(output.contains("✓ database"), "\(command) found no usable database:\n\(output)")
                case "simulate":
                    #expect(result.status == 0 && output.contains("← 200"), "\(command) exited \(result.status):\n\(output)")
                    simulated += 1
                case "export":
                    #expect(result.status == 0, "\(command) exited \(result.status):\n\(output)")
                    let rows = result.stdout.split(separator: "\n")
                    #expect(rows.count >= simulated, "\(command) printed \(rows.count) rows after \(simulated) simulated webhooks:\n\(output)")
                    for row in rows {
                        #expect((try? JSONSerialization.jsonObject(with: Data(row.utf8))) != nil, "\(command) printed a line that is not JSON: \(row)")
                    }
                default:
                    #expect(result.status == 0, "\(command) exited \(result.status):\n\(output)")
                }
            }
        }
    }

    @Test func theReadmeStaysShort() throws {
        // The suite makes a workspace for every test; this one needs none.
        defer { try? FileManager.default.removeItem(at: directory) }
        let lines = try Self.text("README.md").split(separator: "\n", omittingEmptySubsequences: false).count
        #expect(lines <= 250, "README.md has \(lines) lines: move detail into docs/ and link to it")
    }

    /// GitHub's anchor for a heading: lower case, punctuation but - and _ dropped, spaces to -.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { character -> Character? in
            if character == " " { return "-" }
            return character.isLetter || character.isNumber || character == "-" || character == "_" ? character : nil
        })
    }

    static func anchors(in markdown: String) -> Set<String> {
        var inBlock = false
        var anchors: Set<String> = []
        for line in markdown.split(separator: "\n") {
            if line.hasPrefix("```") { inBlock.toggle() }
            guard !inBlock, line.hasPrefix("#") else { continue }
            anchors.insert(anchor(line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)))
        }
        return anchors
    }

    @Test func linksToFilesOfTheRepositoryExist() throws {
        // The suite makes a workspace for every test; this one needs none.
        defer { try? FileManager.default.removeItem(at: directory) }
        let link = try NSRegularExpression(pattern: #"\]\(([^)\s]+)\)"#)
        var checked = 0
        for file in try Self.markdownFiles() {
            let text = try Self.text(file)
            let folder = (file as NSString).deletingLastPathComponent
            for match in link.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let target = String(text[Range(match.range(at: 1), in: text)!])
                guard !target.contains("://"), !target.hasPrefix("mailto:") else { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let path = parts[0].isEmpty ? file : (folder as NSString).appendingPathComponent(parts[0])
                let resolved = Self.root.appendingPathComponent(path).standardizedFileURL.path
                checked += 1
                guard FileManager.default.fileExists(atPath: resolved) else {
                    Issue.record("\(file) links to \(target), but \(path) does not exist")
                    continue
                }
                if parts.count == 2, path.hasSuffix(".md") {
                    let anchors = Self.anchors(in: try String(contentsOfFile: resolved, encoding: .utf8))
                    #expect(anchors.contains(parts[1]), "\(file) links to \(target), but \(path) has no heading with that anchor")
                }
            }
        }
        #expect(checked > 10, "found only \(checked) links to check")
    }

    @Test func versionNamesTheVersionAndTheCommit() throws {
        // The suite makes a workspace for every test; this one needs none.
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try runCommand(try waboxBinary(), ["--version"])
        let line = result.stdout.trimmingCharacters(in: .newlines)
        #expect(line.range(of: #"^wabox [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{7,}|unknown)\)$"#, options: .regularExpression) != nil,
                "wabox --version printed \(line.debugDescription)")
        let changelog = try Self.text("CHANGELOG.md")
        let version = line.split(separator: " ").dropFirst().first.map(String.init) ?? "?"
        #expect(changelog.contains("[\(version)]"), "CHANGELOG.md has no entry for \(version), the version wabox --version prints")
        // Built from this checkout, the commit is its HEAD (or one the build saw before a commit since).
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/git"),
           let head = try? runCommand("/usr/bin/git", ["-C", Self.root.path, "rev-parse", "--short=7", "HEAD"]), head.status == 0 {
            let commit = line.split(separator: " ").last.map { String($0.dropLast()) } ?? ""
            let known = try runCommand("/usr/bin/git", ["-C", Self.root.path, "cat-file", "-e", commit + "^{commit}"])
            #expect(known.status == 0, "wabox --version names commit \(commit), which is not in this repository (HEAD is \(head.stdout))")
        }
    }
}
