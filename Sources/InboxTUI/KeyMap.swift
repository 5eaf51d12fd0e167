import Foundation
import TOMLKit

/// What a key does, by the name `keys.toml` binds it with (`reply = "e"`).
public enum KeyAction: String, CaseIterable, Sendable {
    case down, up, pageDown = "page_down", pageUp = "page_up", top, bottom
    case open, filter, search, unread, scope, clear, quit
    case claim, resolve, contact, help
    case reply, resend, template, openFile = "open_file", saveFile = "save_file", react, raw, compose, back
    case buttons, pick
}

/// The part of the screen a key is pressed in.
public enum KeyContext: String, CaseIterable, Sendable {
    case list, thread, compose

    var words: String {
        switch self {
        case .list: "the list"
        case .thread: "the thread"
        case .compose: "the compose line"
        }
    }
}

/// Which key does what: the defaults, changed by `$XDG_CONFIG_HOME/wabox/keys.toml`
/// (`action = "key"` or `action = ["key", "key"]`).
///
/// The reducer knows each action by its default key. A key bound in `keys.toml` is
/// translated to that default key before the reducer sees it; in the list and the thread a
/// default key whose action was bound to another key does nothing. In the compose line,
/// where letters must stay letters, only Ctrl- and special keys can be bound, and they
/// work beside the defaults. The filter, search and pickers keep their keys.
public struct KeyMap: Sendable, Equatable {
    private var bindings: [KeyContext: [Key: KeyAction]]
    /// The keys `keys.toml` gave each action it names, in its order.
    private var custom: [KeyAction: [Key]] = [:]

    public var isCustomized: Bool { !custom.isEmpty }

    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// The keys of the screen as they come.
    public static let standard = KeyMap(bindings: defaultBindings)

    private init(bindings: [KeyContext: [Key: KeyAction]]) {
        self.bindings = bindings
    }

    /// Every action's default keys, per context; the first is the one the reducer knows.
    static let defaults: [(KeyContext, KeyAction, [Key])] = [
        (.list, .down, [.character("j"), .down]), (.list, .up, [.character("k"), .up]),
        (.list, .pageDown, [.pageDown, .control("d")]), (.list, .pageUp, [.pageUp, .control("u")]),
        (.list, .top, [.character("g"), .home]), (.list, .bottom, [.character("G"), .end]),
        (.list, .open, [.enter, .character("l"), .right, .tab]), (.list, .filter, [.character("/")]),
        (.list, .search, [.character("s")]), (.list, .unread, [.character("u")]), (.list, .scope, [.character("v")]),
        (.list, .clear, [.escape]), (.list, .quit, [.character("q")]), (.list, .claim, [.character("a")]),
        (.list, .resolve, [.character("x")]), (.list, .contact, [.character("i")]), (.list, .help, [.character("?")]),
        (.thread, .up, [.character("k"), .up]), (.thread, .down, [.character("j"), .down]),
        (.thread, .top, [.character("g"), .home]), (.thread, .bottom, [.character("G"), .end]),
        (.thread, .pageUp, [.pageUp]), (.thread, .pageDown, [.pageDown]),
        (.thread, .reply, [.character("r")]), (.thread, .resend, [.character("R")]),
        (.thread, .template, [.character("t"), .control("t")]), (.thread, .openFile, [.character("o")]),
        (.thread, .saveFile, [.character("S")]), (.thread, .react, [.character("+")]), (.thread, .raw, [.character("J")]),
        (.thread, .contact, [.character("i")]), (.thread, .compose, [.escape, .tab]),
        (.thread, .back, [.character("q"), .character("h"), .left]), (.thread, .help, [.character("?")]),
        (.thread, .claim, [.character("a")]), (.thread, .resolve, [.character("x")]),
        (.compose, .template, [.control("t")]), (.compose, .buttons, [.control("b")]),
        (.compose, .pick, [.up, .backTab]), (.compose, .pageUp, [.pageUp]), (.compose, .pageDown, [.pageDown]),
    ]

    private static let defaultBindings: [KeyContext: [Key: KeyAction]] = {
        var bindings: [KeyContext: [Key: KeyAction]] = [:]
        for (context, action, keys) in defaults {
            for key in keys { bindings[context, default: [:]][key] = action }
        }
        return bindings
    }()

    private static func canonical(_ action: KeyAction, in context: KeyContext) -> Key? {
        defaults.first { $0.0 == context && $0.1 == action }?.2.first
    }

    /// What the reducer should see for `key` pressed in `context`: the default key of the
    /// action `keys.toml` bound it to; nil for a default key whose action now has another
    /// key (list and thread); otherwise the key itself.
    public func translate(_ key: Key, in context: KeyContext) -> Key? {
        guard isCustomized else { return key }
        if let action = bindings[context]?[key] { return Self.canonical(action, in: context) ?? key }
        if context != .compose, Self.defaultBindings[context]?[key] != nil { return nil }
        return key
    }

    /// The keys that do `action` now, the default order kept where `keys.toml` is silent.
    public func keys(for action: KeyAction) -> [Key] {
        if let keys = custom[action] { return keys }
        var keys: [Key] = []
        for (_, defaultAction, defaultKeys) in Self.defaults where defaultAction == action {
            for key in defaultKeys where !keys.contains(key) { keys.append(key) }
        }
        return keys
    }

    // MARK: - The help

    /// The help's key labels for the actions they name.
    private static let helpActions: [String: [KeyAction]] = [
        "j k  ↓ ↑": [.down, .up], "g": [.top], "/": [.filter], "u": [.unread], "v": [.scope], "a": [.claim],
        "x": [.resolve], "s": [.search], "Ctrl-T  t": [.template], "R": [.resend], "o": [.openFile], "S": [.saveFile],
        "q  Ctrl-C": [.quit], "+": [.react], "J": [.raw], "i": [.contact], "Ctrl-B": [.buttons], "r": [.reply],
    ]

    /// `label` as the help shows it: the default keys it names, or the keys `keys.toml`
    /// gave those actions instead.
    public func helpLabel(_ label: String) -> String {
        guard isCustomized, let actions = Self.helpActions[label], actions.contains(where: { custom[$0] != nil }) else {
            return label
        }
        let text = actions.map { keys(for: $0).map(Self.name(of:)).joined(separator: " ") }.joined(separator: "  ")
        return actions == [.quit] ? text + "  Ctrl-C" : text
    }

    // MARK: - keys.toml

    /// `keys.toml` at `path`, or the standard keys when there is no such file.
    public static func load(from path: String) throws(LoadError) -> KeyMap {
        guard FileManager.default.fileExists(atPath: path) else { return .standard }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(description: "keys file \(path): cannot read it: \(error.localizedDescription)")
        }
        return try parse(text, file: path)
    }

    /// Parses `keys.toml`: `action = "key"` or `action = ["key", …]` at the top level.
    public static func parse(_ text: String, file: String) throws(LoadError) -> KeyMap {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw LoadError(description: "keys file \(file), line \(error.source.begin.line): \(error.description)")
        } catch {
            throw LoadError(description: "keys file \(file): \(error)")
        }
        var wanted: [(action: KeyAction, keys: [(name: String, key: Key)], line: Int)] = []
        for (name, value) in table {
            let line = Self.line(of: name, in: text)
            func fail(_ why: String) -> LoadError {
                LoadError(description: "keys file \(file), line \(line), \(name): \(why)")
            }
            guard let action = KeyAction(rawValue: name) else {
                throw LoadError(description: "keys file \(file), line \(line): unknown action \"\(name)\"; known: \(KeyAction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let names = value.string.map { [$0] } ?? value.array?.compactMap(\.string)
            guard let names, !names.isEmpty, names.count == (value.array?.count ?? 1) else {
                throw fail("give a key in quotes, like \(name) = \"e\", or several: \(name) = [\"e\", \"Ctrl-E\"]")
            }
            var keys: [(String, Key)] = []
            for keyName in names {
                guard let key = Self.key(named: keyName) else {
                    throw fail("\"\(keyName)\" is not a key; use a character (e, +, ?), Space, Ctrl-A … Ctrl-Z, Enter, Esc, Tab, Shift-Tab, Up, Down, Left, Right, PgUp, PgDn, Home, End, Backspace or Delete")
                }
                if key == .control("c") { throw fail("Ctrl-C always quits wabox; bind another key") }
                keys.append((keyName, key))
            }
            wanted.append((action, keys, line))
        }
        var map = KeyMap.standard
        // First every named action loses its default keys, so that two actions can trade keys.
        for entry in wanted {
            for context in KeyContext.allCases {
                map.bindings[context] = map.bindings[context]?.filter { $0.value != entry.action }
            }
        }
        for entry in wanted.sorted(by: { $0.line < $1.line }) {
            let contexts = KeyContext.allCases.filter { context in defaults.contains { $0.0 == context && $0.1 == entry.action } }
            var bound = false
            for (keyName, key) in entry.keys {
                for context in contexts {
                    if context == .compose, case .character = key { continue }
                    if let other = map.bindings[context]?[key], other != entry.action {
                        throw LoadError(description: "keys file \(file), line \(entry.line), \(entry.action.rawValue) = \"\(keyName)\": \(keyName) already does \(other.rawValue) in \(context.words); bind \(other.rawValue) to another key as well, or pick another key")
                    }
                    map.bindings[context, default: [:]][key] = entry.action
                    bound = true
                }
            }
            if !bound {
                throw LoadError(description: "keys file \(file), line \(entry.line), \(entry.action.rawValue): keys of the compose line must be Ctrl- or special keys (a letter would no longer type), like \(entry.action.rawValue) = \"Ctrl-G\"")
            }
            map.custom[entry.action] = entry.keys.map(\.key)
        }
        return map
    }

    /// The key a name in `keys.toml` stands for.
    static func key(named name: String) -> Key? {
        let special: [String: Key] = [
            "enter": .enter, "return": .enter, "esc": .escape, "escape": .escape, "tab": .tab, "shift-tab": .backTab,
            "backtab": .backTab, "up": .up, "down": .down, "left": .left, "right": .right, "↑": .up, "↓": .down,
            "←": .left, "→": .right, "pgup": .pageUp, "pageup": .pageUp, "pgdn": .pageDown, "pagedown": .pageDown,
            "home": .home, "end": .end, "backspace": .backspace, "delete": .delete, "del": .delete, "space": .character(" "),
        ]
        if let key = special[name.lowercased()] { return key }
        let lower = name.lowercased()
        for prefix in ["ctrl-", "ctrl+", "c-", "^"] where lower.hasPrefix(prefix) {
            let rest = lower.dropFirst(prefix.count)
            guard rest.count == 1, let letter = rest.first, letter.isASCII, letter.isLetter,
                  let byte = letter.asciiValue.map({ UInt32($0) - 96 }),
                  case .control? = Key.fromControlByte(byte) else { return nil }  // Ctrl-I is Tab, Ctrl-M Enter…
            return .control(letter)
        }
        guard name.count == 1, let character = name.first, !character.isWhitespace,
              !character.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return nil }
        return .character(character)
    }

    /// How the help writes a key.
    static func name(of key: Key) -> String {
        switch key {
        case .character(" "): "Space"
        case .character(let character): String(character)
        case .control(let letter): "Ctrl-" + letter.uppercased()
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .home: "Home"
        case .end: "End"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .enter: "Enter"
        case .escape: "Esc"
        case .backspace: "Backspace"
        case .delete: "Delete"
        case .tab: "Tab"
        case .backTab: "Shift-Tab"
        case .resize: "resize"
        }
    }

    private static func line(of name: String, in text: String) -> Int {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(name) else { continue }
            let rest = trimmed.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("=") { return index + 1 }
        }
        return 1
    }
}
