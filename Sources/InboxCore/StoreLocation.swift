// Where the inbox is stored, from `--db`, `WABOX_DB` or `db` in config.toml: a SQLite file
// (a path, or `sqlite:PATH`) or a PostgreSQL database
// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DBNAME[?sslmode=disable|require|verify-full]`,
// also `postgresql://`). The password is a secret: `redacted` and every error message leave
// it out.

import Foundation

/// Where the inbox is stored.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// Reads a `--db` value. A value that starts with `postgres:` or `postgresql:` is a
    /// PostgreSQL URL (or a mistake in one), `sqlite:` names a file, another `SCHEME://`
    /// is refused, anything else is a file path.
    public static func parse(_ value: String) throws(StoreLocationError) -> StoreLocation {
        let lowered = value.lowercased()
        for scheme in ["postgres:", "postgresql:"] where lowered.hasPrefix(scheme) {
            return .postgres(try PostgresLocation.parse(value, schemeLength: scheme.count))
        }
        if lowered.hasPrefix("sqlite:") {
            var path = String(value.dropFirst("sqlite:".count))
            // sqlite:///var/lib/wabox/inbox.sqlite as well as sqlite:/var/lib/...
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else {
                throw StoreLocationError("sqlite: names no file: write sqlite:PATH, like sqlite:/var/lib/wabox/inbox.sqlite")
            }
            return .sqlite(path: path)
        }
        if let separator = value.range(of: "://") {
            let scheme = value[..<separator.lowerBound]
            if !scheme.isEmpty, !scheme.contains("/"), scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+.-".contains($0) }) {
                throw StoreLocationError("""
                    \(scheme):// is no store wabox knows: give a SQLite file path (or sqlite:PATH) or a PostgreSQL URL \
                    (postgres://USER:PASSWORD@HOST:PORT/DBNAME)
                    """)
            }
        }
        guard !value.isEmpty else { throw StoreLocationError("the database is empty: give a file path or a postgres:// URL") }
        return .sqlite(path: value)
    }

    /// The location as it may be shown or logged: a PostgreSQL password as `***`.
    public var redacted: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let location): location.redacted
        }
    }

    public var description: String { redacted }

    /// The PostgreSQL database, if that is where the inbox is.
    public var postgres: PostgresLocation? {
        if case .postgres(let location) = self { location } else { nil }
    }
}

/// A PostgreSQL database as a `postgres://` URL names it.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// `sslmode`: how the connection uses TLS.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// No TLS (a database on this machine or a private network).
        case disable
        /// TLS, the server's certificate not checked.
        case require
        /// TLS, the certificate checked against the system's trust roots and the host name.
        case verifyFull = "verify-full"
    }

    public static let defaultPort = 5432
    /// TLS unless told otherwise: a password must not cross a network in the clear by default.
    public static let defaultTLS = TLSMode.require

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode

    public init(user: String, password: String? = nil, host: String, port: Int = defaultPort, database: String,
                tls: TLSMode = defaultTLS) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
    }

    /// `postgres://user:***@host:port/db?sslmode=…`: never the password.
    public var redacted: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(Self.encode(user))\(password == nil ? "" : ":***")@\(host):\(port)/\(Self.encode(database))"
            + "?sslmode=\(tls.rawValue)"
    }

    public var description: String { redacted }

    /// The URL again, password included: for the connection only, never for a log.
    public var url: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(Self.encode(user))\(password.map { ":" + Self.encode($0) } ?? "")@\(host):\(port)/"
            + "\(Self.encode(database))?sslmode=\(tls.rawValue)"
    }

    static func parse(_ value: String, schemeLength: Int) throws(StoreLocationError) -> PostgresLocation {
        let form = "postgres://USER:PASSWORD@HOST:PORT/DBNAME"
        var rest = Substring(value.dropFirst(schemeLength))
        guard rest.hasPrefix("//") else {
            throw StoreLocationError("a PostgreSQL URL starts with postgres:// (two slashes): write \(form)")
        }
        rest.removeFirst(2)
        if rest.contains("#") {
            throw StoreLocationError("""
                the PostgreSQL URL holds a # (a fragment, or a character of the password to percent-encode as %23): \
                write \(form)
                """)
        }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        // The user part ends at the last @, so that an @ in a password that was not encoded still works.
        guard let at = rest.lastIndex(of: "@") else {
            throw StoreLocationError("""
                the PostgreSQL URL names no user: write \(form) (an @, / or ? in the password is written %40, %2F, %3F)
                """)
        }
        let userInfo = rest[..<at]
        var hostPart = rest[rest.index(after: at)...]
        guard let slash = hostPart.firstIndex(of: "/") else {
            throw StoreLocationError("the PostgreSQL URL names no database: add /DBNAME after the host and port (\(form))")
        }
        let path = hostPart[hostPart.index(after: slash)...]
        hostPart = hostPart[..<slash]

        let rawUser: Substring, rawPassword: Substring?
        if let colon = userInfo.firstIndex(of: ":") {
            rawUser = userInfo[..<colon]
            rawPassword = userInfo[userInfo.index(after: colon)...]
        } else {
            rawUser = userInfo
            rawPassword = nil
        }
        let user = try decode(rawUser, what: "user name")
        guard !user.isEmpty else { throw StoreLocationError("the PostgreSQL URL names no user: write \(form)") }
        // Never echoed: a password that cannot be decoded is only said to be so.
        let password = try rawPassword.map { raw throws(StoreLocationError) -> String in
            guard let decoded = String(raw).removingPercentEncoding else {
                throw StoreLocationError("""
                    the password in the PostgreSQL URL has a % that starts no %XX code: write % as %25 \
                    (and @ as %40, / as %2F, ? as %3F, # as %23)
                    """)
            }
            return decoded
        }

        let host: String, portText: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw StoreLocationError("the host [\(hostPart.dropFirst())… in the PostgreSQL URL lacks its closing ]")
            }
            host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            let after = hostPart[hostPart.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else {
                throw StoreLocationError("after the host [\(host)] comes :PORT or /DBNAME, not \(after)")
            }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else if let colon = hostPart.lastIndex(of: ":") {
            host = String(hostPart[..<colon])
            portText = hostPart[hostPart.index(after: colon)...]
        } else {
            host = String(hostPart)
            portText = nil
        }
        guard !host.isEmpty else {
            throw StoreLocationError("the PostgreSQL URL names no host: write \(form), like postgres://wabox@127.0.0.1:5432/wabox")
        }
        var port = defaultPort
        if let portText {
            guard let number = Int(portText), (1...65_535).contains(number) else {
                throw StoreLocationError("the port \"\(portText)\" in the PostgreSQL URL is not a port: give a number from 1 to 65535, like 5432")
            }
            port = number
        }

        let database = try decode(path, what: "database name")
        guard !database.isEmpty else {
            throw StoreLocationError("the PostgreSQL URL names no database: add /DBNAME after the host and port (\(form))")
        }
        guard !database.contains("/") else {
            throw StoreLocationError("the database name \"\(database)\" has a /: the URL's path is one database name (\(form))")
        }

        var tls = defaultTLS
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(pair[0]), setting = pair.count > 1 ? String(pair[1]) : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: setting) else {
                    let modes = TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                    throw StoreLocationError("""
                        sslmode=\(setting) in the PostgreSQL URL is not one wabox knows: use one of \(modes) \
                        (require when the server is across a network, verify-full to check its certificate)
                        """)
                }
                tls = mode
            default:
                throw StoreLocationError("the PostgreSQL URL has the option \"\(key)\", which wabox does not know: only sslmode is read")
            }
        }
        return PostgresLocation(user: user, password: password, host: host, port: port, database: database, tls: tls)
    }

    private static func decode(_ raw: Substring, what: String) throws(StoreLocationError) -> String {
        guard let decoded = String(raw).removingPercentEncoding else {
            throw StoreLocationError("the \(what) \"\(raw)\" in the PostgreSQL URL has a % that starts no %XX code: write % as %25")
        }
        return decoded
    }

    /// Percent-encodes what would end the part it stands in.
    private static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar)) || "-._~".contains(Character(scalar)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// What is wrong with a `--db` value, and what to write instead. Never holds a password.
public struct StoreLocationError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
