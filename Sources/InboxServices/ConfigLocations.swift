import Foundation
import InboxStore
import TOMLKit

/// Where wabox keeps its files unless told otherwise (the XDG base directories), and how
/// a settings file reads: shared by the executable's settings, the screen's key bindings
/// and the doctor.
public enum ConfigLocations {
    /// `$XDG_CONFIG_HOME/wabox`, else `~/.config/wabox`.
    public static func configDirectory(environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return "\(base)/wabox"
    }

    /// `config.toml` in `configDirectory`.
    public static func defaultConfigPath(environment: [String: String]) -> String {
        configDirectory(environment: environment) + "/config.toml"
    }

    /// `$XDG_DATA_HOME/wabox/inbox.sqlite`, else under `~/.local/share`.
    public static func defaultDatabasePath(environment: [String: String]) -> String {
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return "\(base)/wabox/inbox.sqlite"
    }

    public struct FileError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The top-level `name = value` pairs of a settings file, every value as text (numbers
    /// written as digits). A file that is not TOML, or a value that is neither a string
    /// nor a whole number, is refused with its line.
    public static func readSettingsFile(_ path: String) throws(FileError) -> (text: String, values: [String: String]) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw FileError(description: "cannot read config file \(path): \(error.localizedDescription)")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw FileError(description: "config file \(path) is not valid TOML (line \(error.source.begin.line), column \(error.source.begin.column)): \(error.description)")
        } catch {
            throw FileError(description: "config file \(path) is not valid TOML: \(error)")
        }
        var values: [String: String] = [:]
        for (name, value) in table {
            if let string = value.string {
                values[name] = string
            } else if let int = value.int {
                values[name] = String(int)
            } else if let flag = value.bool {
                values[name] = String(flag)
            } else {
                throw FileError(description: "config file \(path): \(name) must be a string, like \(name) = \"…\"")
            }
        }
        return (text, values)
    }

    /// A listen address as host and port: `HOST:PORT`, `[IPv6]:PORT` or `:PORT`.
    public static func parseListen(_ text: String) throws(FileError) -> (host: String, port: Int) {
        let error = FileError(description: "listen address \"\(text)\" is not HOST:PORT (for example 127.0.0.1:8080 or [::1]:8080)")
        guard let colon = text.lastIndex(of: ":") else { throw error }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { throw error }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        return (host, port)
    }
}
