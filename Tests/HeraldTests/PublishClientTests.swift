@testable import Herald
import Testing

/// The URLs `herald publish|users|kick` and the webhooks accept.
@Suite struct PublishClientTests {
    @Test func userInformationInTheURLIsRefusedWithoutEchoingIt() throws {
        for url in ["http://user:s3cret@127.0.0.1:8081", "https://s3cret@example.com/hooks", "user:s3cret@host:80",
                    "http://u:s3cret@host:99999"] {
            do {
                _ = try PublishClient.Target(url, credentials: url.hasSuffix("99999"))
                Issue.record("\(url) was accepted")
            } catch {
                #expect(!"\(error)".contains("s3cret"), "\(error)")
            }
        }
        #expect(throws: PublishClient.ClientError(description: "the URL must not carry user information (user:password@); the API key goes in --key")) {
            try PublishClient.Target("http://user:s3cret@127.0.0.1:8081")
        }
        // An @ in the path is no user information.
        #expect(try PublishClient.Target("http://host:1/a@b").path == "/a@b")
        // Webhook receivers may take credentials, sent as Basic authorization.
        let receiver = try PublishClient.Target("https://hook:p%40ss@hooks.example:8443/in", credentials: true)
        #expect(receiver.userinfo == "hook:p%40ss" && receiver.host == "hooks.example" && receiver.port == 8443
            && receiver.hostHeader == "hooks.example:8443" && receiver.path == "/in")
    }

    @Test func schemesPortsAndPaths() throws {
        let plain = try PublishClient.Target("http://example.com/base/")
        #expect(!plain.tls && plain.port == 80 && plain.host == "example.com" && plain.path == "/base")
        let secure = try PublishClient.Target("https://[::1]/hooks")
        #expect(secure.tls && secure.port == 443 && secure.host == "::1" && secure.hostHeader == "[::1]")
        #expect(try PublishClient.Target("https://h:8443").port == 8443)
        #expect(throws: PublishClient.ClientError.self) { try PublishClient.Target("ftp://h") }
        #expect(throws: PublishClient.ClientError.self) { try PublishClient.Target("http://h:0") }
    }
}
