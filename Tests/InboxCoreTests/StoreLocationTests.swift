import InboxCore
import Testing

@Suite struct StoreLocationTests {
    @Test func pathsAndSQLiteURLsAreSQLite() throws {
        #expect(try StoreLocation.parse("/var/lib/wabox/inbox.sqlite") == .sqlite(path: "/var/lib/wabox/inbox.sqlite"))
        #expect(try StoreLocation.parse("inbox.sqlite") == .sqlite(path: "inbox.sqlite"))
        #expect(try StoreLocation.parse("sqlite:/srv/inbox.sqlite") == .sqlite(path: "/srv/inbox.sqlite"))
        #expect(try StoreLocation.parse("sqlite:///srv/inbox.sqlite") == .sqlite(path: "/srv/inbox.sqlite"))
        #expect(try StoreLocation.parse("sqlite:relative.sqlite") == .sqlite(path: "relative.sqlite"))
        // A folder whose name holds "://" after a slash is still a path.
        #expect(try StoreLocation.parse("/data/a://b.sqlite") == .sqlite(path: "/data/a://b.sqlite"))
    }

    @Test func aFullPostgresURL() throws {
        let location = try #require(try StoreLocation.parse("postgres://wabox:s3cret@db.example.com:6543/inbox?sslmode=verify-full").postgres)
        #expect(location == PostgresLocation(user: "wabox", password: "s3cret", host: "db.example.com", port: 6543,
                                             database: "inbox", tls: .verifyFull))
        let other = try #require(try StoreLocation.parse("postgresql://wabox@127.0.0.1/inbox?sslmode=disable").postgres)
        #expect(other == PostgresLocation(user: "wabox", host: "127.0.0.1", port: 5432, database: "inbox", tls: .disable))
        // TLS unless told otherwise.
        #expect(try StoreLocation.parse("postgres://u:p@h:1/d").postgres?.tls == .require)
        #expect(try StoreLocation.parse("POSTGRES://u@h/d").postgres?.user == "u")
    }

    @Test func percentEncodedPartsAreDecodedAndIPv6HostsRead() throws {
        let location = try #require(try StoreLocation.parse("postgres://agent%40corp:p%40ss%2Fw%3Ford@[::1]:5433/my%20inbox").postgres)
        #expect(location.user == "agent@corp")
        #expect(location.password == "p@ss/w?ord")
        #expect(location.host == "::1")
        #expect(location.port == 5433)
        #expect(location.database == "my inbox")
        // An @ in a password that was not encoded: the user part ends at the last @.
        #expect(try StoreLocation.parse("postgres://u:a@b@h:5432/d").postgres?.password == "a@b")
        // The connection URL round-trips.
        #expect(try StoreLocation.parse(location.url).postgres == location)
    }

    @Test func thePasswordIsNeverShown() throws {
        let location = try StoreLocation.parse("postgres://wabox:hunter2-secret@db:5432/inbox?sslmode=require")
        #expect(location.redacted == "postgres://wabox:***@db:5432/inbox?sslmode=require")
        #expect(!"\(location)".contains("hunter2"))
        #expect(!String(describing: location.postgres!).contains("hunter2"))
        #expect(try StoreLocation.parse("postgres://wabox@db/inbox").redacted == "postgres://wabox@db:5432/inbox?sslmode=require")
        // Nor in an error about another part of the URL.
        for broken in ["postgres://wabox:hunter2-secret@db:99999/inbox", "postgres://wabox:hunter2-secret@db:5432/",
                       "postgres://wabox:hunter2-secret@db:5432/inbox?sslmode=prefer",
                       "postgres://wabox:hunter2%zz@db/inbox", "postgres://wabox:hunter2-secret@db/inbox?ssl=1"] {
            let error = #expect(throws: StoreLocationError.self) { try StoreLocation.parse(broken) }
            #expect(error?.description.contains("hunter2") == false, "\(broken): \(String(describing: error))")
        }
    }

    @Test(arguments: [
        ("postgres://wabox@db:5432", "names no database"),
        ("postgres://wabox@db:5432/", "names no database"),
        ("postgres://wabox@db:port/inbox", "\"port\" in the PostgreSQL URL is not a port"),
        ("postgres://wabox@db:0/inbox", "from 1 to 65535"),
        ("postgres://wabox@db:70000/inbox", "from 1 to 65535"),
        ("postgres://wabox@db/inbox?sslmode=prefer", "use one of disable, require, verify-full"),
        ("postgres://wabox@db/inbox?application_name=x", "only sslmode is read"),
        ("postgres://db:5432/inbox", "names no user"),
        ("postgres://@db/inbox", "names no user"),
        ("postgres://wabox@:5432/inbox", "names no host"),
        ("postgres:wabox@db/inbox", "two slashes"),
        ("postgres://wabox@db/a/b", "has a /"),
        ("postgres://wabox@[::1/inbox", "closing ]"),
        ("postgres://wabox:p#ss@db/inbox", "%23"),
        ("mysql://wabox@db/inbox", "mysql:// is no store wabox knows"),
        ("sqlite:", "sqlite:PATH"),
        ("", "empty"),
    ])
    func aBrokenValueSaysWhatIsWrong(value: String, expected: String) {
        let error = #expect(throws: StoreLocationError.self) { try StoreLocation.parse(value) }
        #expect(error?.description.contains(expected) == true, "\(value): \(String(describing: error))")
    }
}
