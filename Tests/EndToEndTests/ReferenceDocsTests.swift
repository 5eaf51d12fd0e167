import Foundation
import InboxServices
import InboxTesting
import InboxTUI
import Testing

/// docs/keys.md and docs/configuration.md are generated from the code (the key map, the
/// settings catalogue); the catalogue itself is held to the built binary: the config keys it
/// accepts, the flags each command's `--help` lists, and the flags' defaults.
@Suite struct ReferenceDocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Compares `generated` with the file at `path`; with WABOX_UPDATE_DOCS=1 writes it instead.
    private func check(_ path: String, against generated: String) throws {
        let url = Self.root.appendingPathComponent(path)
        if ProcessInfo.processInfo.environment["WABOX_UPDATE_DOCS"] == "1" {
            try generated.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let written = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        guard written != generated else { return }
        let writtenLines = written.split(separator: "\n", omittingEmptySubsequences: false)
        let generatedLines = generated.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(writtenLines, generatedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(writtenLines.count, generatedLines.count)
        let was = first < writtenLines.count ? String(writtenLines[first]) : "(end of file)"
        let now = first < generatedLines.count ? String(generatedLines[first]) : "(end of file)"
        Issue.record("""
            \(path) is not what the code generates (first difference at line \(first + 1)):
              file: \(was)
              code: \(now)
            run `\(KeyReference.regenerate)` to regenerate it
            """)
    }

    @Test func keysMarkdownIsGeneratedFromTheKeyMap() throws {
        try check("docs/keys.md", against: KeyReference.markdown)
        let markdown = KeyReference.markdown
        for action in KeyAction.allCases {
            #expect(markdown.contains("| `\(action.rawValue)` |"), "docs/keys.md has no row for the action \(action.rawValue)")
        }
    }

    @Test func configurationMarkdownIsGeneratedFromTheCatalogue() throws {
        try check("docs/configuration.md", against: SettingsReference.markdown)
    }

    /// The catalogue's config keys are exactly those the binary accepts: an unknown key in
    /// config.toml is refused with the list of the known ones.
    @Test func theCatalogueNamesEverySettingTheBinaryKnows() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("config.toml")
        try "no_such_setting = \"x\"\n".write(to: config, atomically: true, encoding: .utf8)
        let result = try runCommand(try waboxBinary(), ["export", "--config", config.path, "--db", folder.appendingPathComponent("db.sqlite").path])
        let message = result.stdout + result.stderr
        let marker = "known settings are "
        let listed = try #require(message.range(of: marker), "wabox did not list the known settings: \(message)")
        let known = Set(message[listed.upperBound...].prefix { $0 != "\n" }.split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) })
        let catalogued = Set(SettingsReference.settings.map(\.key))
        #expect(known.subtracting(catalogued).isEmpty,
                "settings the binary takes that SettingsReference.swift does not describe: \(known.subtracting(catalogued).sorted()); add them there, then run `\(SettingsReference.regenerate)`")
        #expect(catalogued.subtracting(known).isEmpty,
                "SettingsReference.swift describes settings the binary does not take: \(catalogued.subtracting(known).sorted())")
    }

    /// Each flag the catalogue names is in the `--help` of each command it names, and a
    /// listener flag's default is the one `--help` shows.
    @Test func everyCataloguedFlagIsInItsCommandsHelp() throws {
        let binary = try waboxBinary()
        var helps: [String: String] = [:]
        func help(_ command: String) throws -> String {
            if let text = helps[command] { return text }
            let arguments = command == "every command" ? ["export", "--help"] : [command, "--help"]
            let text = try runCommand(binary, arguments).stdout
            helps[command] = text
            return text
        }
        var flags: [(flag: String, commands: [String], defaultValue: String?)] = SettingsReference.settings.compactMap { setting in
            setting.flag.map { ($0.name, $0.commands, nil) }
        }
        flags += SettingsReference.listenerFlags.map { ($0.flag, $0.commands, $0.defaultValue) }
        for (flag, commands, defaultValue) in flags {
            for command in commands {
                // The option's entry under OPTIONS: its line and those wrapped under it.
                let lines = try help(command).split(separator: "\n").map(String.init)
                guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(flag) ") || $0 == "  \(flag)" }) else {
                    Issue.record("wabox \(command) --help has no \(flag), which docs/configuration.md lists")
                    continue
                }
                let entry = ([lines[start]] + lines[(start + 1)...].prefix { !$0.hasPrefix("  -") && !$0.isEmpty })
                    .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
                // The catalogue's default (the first value in backquotes) is the one ArgumentParser shows.
                guard let defaultValue, let value = Self.quotedValue(defaultValue) else { continue }
                let shown = entry.range(of: #"default: [^)]+\)"#, options: .regularExpression)
                    .map { String(entry[$0].dropFirst("default: ".count).dropLast()) }
                // Defaults ArgumentParser does not know (a path named in the help's words) are not compared.
                guard shown != nil || Double(value) != nil else { continue }
                let same = shown == value || (shown.flatMap(Double.init) != nil && shown.flatMap(Double.init) == Double(value))
                #expect(same, "wabox \(command) --help shows \(flag)'s default as \(shown ?? "nothing"), docs/configuration.md as \(defaultValue)")
            }
        }
    }

    private static func quotedValue(_ text: String) -> String? {
        guard text.hasPrefix("`") else { return nil }
        return String(text.dropFirst().prefix { $0 != "`" })
    }
}
