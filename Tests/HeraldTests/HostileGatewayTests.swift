import Foundation
import Herald
import HeraldTesting
import NIOPosix
import SocketIOProtocol
import Testing

/// Attacks on the gateway by clients on real sockets against a running node: each checks the answer, that the
/// node is still up and that a fresh client still connects.
@Suite struct HostileGatewayTests {
    let auth = AuthLiveTests()

    func expectFreshClientConnects(_ port: Int) async throws {
        let client = try await auth.client(port)
        let sid = try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(sub: "fresh")))
        #expect(!sid.isEmpty)
        await client.disconnectTransport()
    }

    /// A validly signed token whose NumericDates are in milliseconds used to trap in the expiry timer.
    @Test func millisecondClaimsAreRefusedNotTrapped() async throws {
        try await auth.withNode { node, port in
            let refusal = { (name: String) in
                #"44{"message":"\#(name) 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds","data":{"code":"token_invalid"}}"#
            }
            for name in ["exp", "nbf", "iat"] {
                let client = try await auth.client(port)
                client.send("40" + AuthLiveTests.authJSON(try await AuthLiveTests.token([name: .int(1_700_000_000_000)])))
                #expect(try await client.nextText() == refusal(name))
                await client.disconnectTransport()
            }
            // At the far edge of what is accepted, the timer saturates instead of trapping.
            let client = try await auth.client(port)
            try await client.connect(auth: AuthLiveTests.authJSON(try await AuthLiveTests.token(["exp": .int(253_402_300_799)])))
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .int(1_700_000_000_000)]))"}"#, ackID: 1)
            #expect(try await client.nextText() == #"431[{"ok":false,"error":{"code":"token_invalid","message":"exp 1700000000000 is after the year 9999: NumericDates are seconds since 1970, not milliseconds"}}]"#)
            client.emit("refresh", #"{"token":"\#(try await AuthLiveTests.token(["exp": .double(253_402_300_000.5)]))"}"#, ackID: 2)
            #expect(try await client.nextText() == #"432[{"ok":true}]"#)
            try await expectFreshClientConnects(port)
            #expect(node.auth?.stats.refused == [.tokenInvalid: 3])
        }
    }
}
