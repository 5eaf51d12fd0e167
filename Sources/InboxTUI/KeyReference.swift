/// docs/keys.md, generated from the key map the screen uses (`KeyMap.defaults`), the
/// actions' names in `keys.toml` and the help overlay's entries, so that the reference
/// cannot drift from the program: a test regenerates it and compares.
public enum KeyReference {
    /// The command that rewrites docs/keys.md (and docs/configuration.md).
    public static let regenerate = "WABOX_UPDATE_DOCS=1 swift test --filter ReferenceDocsTests"

    /// The whole of docs/keys.md.
    public static var markdown: String {
        var lines = [
            "# Keys",
            "",
            "<!-- Generated from Sources/InboxTUI/KeyMap.swift and KeyReference.swift by `\(regenerate)`; do not edit. -->",
            "",
            "Every key of the inbox screen. `?` on the screen shows the same, with the keys",
            "`keys.toml` changed. [Back to the README](../README.md).",
            "",
        ]
        for context in KeyContext.allCases {
            lines += ["## In \(context.words)", "", "| keys | `keys.toml` action | does |", "|---|---|---|"]
            for (entryContext, action, keys) in KeyMap.defaults where entryContext == context {
                let names = keys.map { "`\(KeyMap.name(of: $0))`" }.joined(separator: " ")
                lines.append("| \(names) | `\(action.rawValue)` | \(action.reference(in: context)) |")
            }
            for (keys, does) in fixedKeys where keys.0 == context {
                lines.append("| \(keys.1) | — | \(does) |")
            }
            lines.append("")
        }
        lines += [
            "`Ctrl-C` quits from anywhere, and cannot be bound.",
            "",
            "## The help overlay (`?`)",
            "",
            "| keys | does |",
            "|---|---|",
        ]
        for (key, what) in Renderer.helpEntries {
            lines.append("| `\(key)` | \(what) |")
        }
        lines += [
            "",
            "## Changing keys: `keys.toml`",
            "",
            "`$XDG_CONFIG_HOME/wabox/keys.toml` binds actions to other keys, one `action = \"key\"` (or a",
            "list) per line. In the list and the thread a bound key replaces the action's default keys;",
            "in the compose line only `Ctrl-` and special keys can be bound, beside the defaults. The",
            "filter, search and pickers keep their keys. A broken file is refused with its line and key.",
            "",
            "```toml",
            "reply = \"e\"                 # instead of r",
            "react = [\"=\", \"Ctrl-R\"]     # instead of +",
            "down = [\"n\", \"Down\"]        # then up must leave k alone, or take it",
            "buttons = \"Ctrl-G\"          # in the compose line, beside Ctrl-B",
            "```",
            "",
            "Actions: " + KeyAction.allCases.map { "`\($0.rawValue)`" }.joined(separator: " ") + ".",
            "",
            "Keys: a character, `Space`, `Ctrl-A`…`Ctrl-Z` (not `Ctrl-C`, `Ctrl-I`, `Ctrl-M`), `Enter`, `Esc`, `Tab`,",
            "`Shift-Tab`, `Up`, `Down`, `Left`, `Right`, `PgUp`, `PgDn`, `Home`, `End`, `Backspace`, `Delete`.",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// Keys the reducer handles itself, which `keys.toml` cannot rebind.
    static let fixedKeys: [((KeyContext, String), String)] = [
        ((.list, "`n`"), "write a private note on the conversation: stored with your name and the time, shown to every agent, never sent"),
        ((.list, "`L`"), "put a label on the conversation or take it off (a new name makes it; `Tab` completes)"),
        ((.thread, "`n` `L`"), "a note, a label, as in the list"),
        ((.thread, "`d`"), "the picked message whole: its id, earlier versions of an edited one, a call's figures, the raw form of one wabox could not read"),
        ((.compose, "`Enter`"), "send the reply (with a picked message: as a reply quoting it)"),
        ((.compose, "`/NAME` `Tab`"), "put the canned reply NAME there to edit before `Enter`; `/` `Tab` lists them as you type"),
        ((.compose, "`Ctrl-O`"), "send a file: type its path (`Tab` completes it, `Tab` again lists the names, `~` is your home), `Enter` sends it with the text typed as its caption, `Esc` cancels; a file WhatsApp would refuse (type, size) is refused at once with the limit"),
        ((.compose, "`Esc`"), "cancel the reply or template, leave the compose line"),
        ((.compose, "`Ctrl-A` `Ctrl-E` `Ctrl-U` `Ctrl-W`, `←` `→`, `Home` `End`"), "edit the line (by grapheme: emoji and accents stay whole)"),
    ]
}

extension KeyAction {
    /// What the action does, for docs/keys.md.
    func reference(in context: KeyContext) -> String {
        switch self {
        case .down: context == .list ? "next conversation" : "next message (pick one)"
        case .up: context == .list ? "previous conversation" : "previous message"
        case .pageDown: context == .list ? "a page down the list" : "scroll the thread a page down"
        case .pageUp: context == .list ? "a page up the list" : "scroll the thread a page up"
        case .top: context == .list ? "to the top: the conversations the list header counts as `↑ 3 new`" : "the first message"
        case .bottom: context == .list ? "the last conversation" : "the newest message"
        case .open: "open the conversation"
        case .filter: "filter the list as you type: name, number or username, case- and accent-insensitive, with the terms of the [filter language](guide.md#the-filter-language)"
        case .search: "search all message text (SQLite FTS5); `Enter` jumps to the message"
        case .unread: "unread only (toggle)"
        case .scope: "show all conversations, only mine, or only the unassigned ones"
        case .clear: "clear the filter"
        case .quit: "quit"
        case .claim: "claim the conversation (again: give it back); someone else's takes a second `a`"
        case .resolve: "resolve the conversation; the customer's next message reopens it (again: reopen now)"
        case .contact: "who the customer is: wa_id, user id, username, earlier numbers, the business numbers they write to, first and last message, window, claim, labels and notes"
        case .help: "the keys"
        case .reply: "reply to the picked message, quoting it"
        case .resend: "send a message marked `?` (outcome unknown) again; it may arrive twice"
        case .template: "send an approved template (offered by itself when the 24-hour window is closed)"
        case .openFile: "open the picked downloaded file with `open_command` (its path the one argument, no shell); without one, says where the file is"
        case .saveFile: "save a copy of the picked file into `download_dir` under the customer's file name made safe, never overwriting (`name (2).pdf`)"
        case .react: "react to the picked message: 👍 ❤️ 😂 😮 😢 🙏 (`←` `→` `Enter`, or `1`–`6`) or any emoji typed; the same emoji again removes it"
        case .raw: "the raw webhook the picked message came in, pretty-printed and sanitised (`j` `k` `PgDn` `PgUp` `g` `G` scroll, `Esc` closes)"
        case .compose: "back to the compose line"
        case .back: "back to the list"
        case .buttons: "turn the text into a message with up to three reply buttons (titles of 20 characters at most); `Enter` on an empty line sends"
        case .pick: "pick a message in the thread (then `r` replies quoting it)"
        }
    }
}
