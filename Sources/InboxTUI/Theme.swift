import Foundation
import TOMLKit

/// The parts of the screen a theme styles.
public enum Element: String, CaseIterable, Sendable {
    case base, header, list, selection, unread, preview, time, inbound, outbound, notice, quote, reaction
    case tickPending = "tick_pending", tickSent = "tick_sent", tickDelivered = "tick_delivered"
    case tickRead = "tick_read", tickPlayed = "tick_played", tickFailed = "tick_failed"
    case failed, separator, windowClosed = "window_closed", statusBar = "status_bar", statusError = "status_error"
    case compose, filter, help, border
    /// Agents' private notes in the thread.
    case note
}

/// A colour scheme: a style per screen element.
public struct Theme: Sendable {
    public var name: String
    private var styles: [Element: Style]

    public subscript(element: Element) -> Style {
        styles[element] ?? styles[.base] ?? .plain
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The colourless theme, also what `NO_COLOR` selects.
    public static let mono: Theme = {
        var styles: [Element: Style] = [:]
        for element in Element.allCases { styles[element] = .plain }
        styles[.header] = Style(attributes: .bold)
        styles[.selection] = Style(attributes: .reverse)
        styles[.unread] = Style(attributes: .bold)
        styles[.tickRead] = Style(attributes: .bold)
        styles[.tickFailed] = Style(attributes: .bold)
        styles[.failed] = Style(attributes: .bold)
        styles[.statusBar] = Style(attributes: .reverse)
        styles[.statusError] = Style(attributes: [.reverse, .bold])
        styles[.help] = Style(attributes: .reverse)
        styles[.time] = Style(attributes: .dim)
        styles[.quote] = Style(attributes: .dim)
        styles[.notice] = Style(attributes: .dim)
        styles[.filter] = Style(attributes: .underline)
        styles[.note] = Style(attributes: .italic)
        return Theme(name: "mono", styles: styles)
    }()

    /// The default theme when no file is found: the terminal's colours plus a few accents.
    public static let builtIn: Theme = {
        var theme = mono
        theme.name = "default"
        theme.styles[.unread] = Style(foreground: .index(2), attributes: .bold)
        theme.styles[.tickRead] = Style(foreground: .index(6), attributes: .bold)
        theme.styles[.tickFailed] = Style(foreground: .index(1), attributes: .bold)
        theme.styles[.failed] = Style(foreground: .index(1))
        theme.styles[.outbound] = Style(foreground: .index(4))
        theme.styles[.windowClosed] = Style(foreground: .index(3))
        theme.styles[.note] = Style(foreground: .index(5), attributes: .italic)
        theme.styles[.statusError] = Style(foreground: .index(15), background: .index(1), attributes: .bold)
        return theme
    }()

    init(name: String, styles: [Element: Style]) {
        self.name = name
        self.styles = styles
    }

    /// Parses a theme file: one table per element with `fg`, `bg` and `attrs`.
    ///
    /// ```toml
    /// [selection]
    /// fg = "black"
    /// bg = "#87afff"
    /// attrs = ["bold"]
    /// ```
    public static func parse(_ text: String, file: String) throws(LoadError) -> Theme {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw LoadError(description: "theme \(file), line \(error.source.begin.line): \(error.description)")
        } catch {
            throw LoadError(description: "theme \(file): \(error)")
        }
        var theme = Theme.mono
        theme.name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        for (key, value) in table {
            if key == "name", let name = value.string {
                theme.name = name
                continue
            }
            guard let element = Element(rawValue: key) else {
                throw LoadError(description: "theme \(file), line \(line(of: "[\(key)]", in: text)): unknown element [\(key)]; known: \(Element.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let fields = value.table else {
                throw LoadError(description: "theme \(file), line \(line(of: key, in: text)): \(key) must be a table like [\(key)] with fg, bg and attrs")
            }
            var style = Style()
            for (field, fieldValue) in fields {
                func fail(_ why: String) -> LoadError {
                    LoadError(description: "theme \(file), line \(line(of: field, in: text, after: "[\(key)]")), [\(key)] \(field): \(why)")
                }
                switch field {
                case "fg", "bg":
                    let text = fieldValue.string ?? fieldValue.int.map(String.init)
                    guard let text, let color = ThemeColor(parsing: text) else {
                        throw fail("not a colour; use a name (red, bright-blue…), 0–255, #rrggbb or default")
                    }
                    if field == "fg" { style.foreground = color } else { style.background = color }
                case "attrs":
                    let names = fieldValue.array.map { $0.compactMap(\.string) } ?? fieldValue.string.map { [$0] } ?? []
                    for name in names {
                        guard let attribute = TextAttributes.names[name.lowercased()] else {
                            throw fail("unknown attribute \"\(name)\"; use bold, dim, underline, reverse or italic")
                        }
                        style.attributes.insert(attribute)
                    }
                default:
                    throw fail("unknown field; use fg, bg and attrs")
                }
            }
            theme.styles[element] = style
        }
        return theme
    }

    /// Finds and loads theme `name`: the user's themes folder first, then `themes/` beside
    /// the installation, then the built-in themes.
    public static func load(named name: String, searchPaths: [String]) throws(LoadError) -> Theme {
        for directory in searchPaths {
            let path = (directory as NSString).appendingPathComponent("\(name).toml")
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                return try parse(text, file: path)
            }
        }
        switch name {
        case "mono": return mono
        case "default": return builtIn
        default:
            throw LoadError(description: "no theme named \"\(name)\" in \(searchPaths.joined(separator: ", ")); available: \(available(in: searchPaths).joined(separator: ", "))")
        }
    }

    /// The theme a screen uses: `name` (`--theme`, `WABOX_THEME`), else `mono` when
    /// `NO_COLOR` is set, else `default`; found by `searchPaths(environment:executable:)`.
    public static func choose(named name: String?, environment: [String: String],
                              executable: String) throws(LoadError) -> Theme {
        let chosen = name ?? (environment["NO_COLOR"].map { _ in "mono" } ?? "default")
        return try load(named: chosen, searchPaths: searchPaths(environment: environment, executable: executable))
    }

    /// The user's themes folder (`$XDG_CONFIG_HOME/wabox/themes`), then `themes/` beside
    /// the installation of `executable` (up to four folders up), then the system's.
    public static func searchPaths(environment: [String: String], executable: String) -> [String] {
        let configBase = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        var paths = ["\(configBase)/wabox/themes"]
        var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            paths.append(directory.appendingPathComponent("themes").path)
            directory = directory.deletingLastPathComponent()
        }
        paths.append("/usr/local/share/wabox/themes")
        paths.append("/usr/share/wabox/themes")
        return paths
    }

    /// Theme names found in `searchPaths`, plus the built-in ones.
    public static func available(in searchPaths: [String]) -> [String] {
        var names: Set<String> = ["default", "mono"]
        for directory in searchPaths {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".toml") {
                names.insert(String(file.dropLast(5)))
            }
        }
        return names.sorted()
    }

    private static func line(of needle: String, in text: String, after section: String? = nil) -> Int {
        var inSection = section == nil
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let section, trimmed.hasPrefix("[") { inSection = trimmed == section }
            if inSection, trimmed.hasPrefix(needle) { return index + 1 }
        }
        return 1
    }
}
