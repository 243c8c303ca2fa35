@testable import EngineIO
import Testing

/// The one-scan reader of `transport`, `sid` and `EIO` agrees with the full query parser on every URI.
@Suite struct EngineIOQueryTests {
    @Test(arguments: [
        "/socket.io/?EIO=4&transport=websocket",
        "/socket.io/?EIO=4&transport=websocket&sid=abc-_DEF",
        "/socket.io/?transport=polling&EIO=3&t=Pq1",
        "/socket.io/",
        "/socket.io/?",
        "/socket.io/?&&EIO=4&&",
        "/socket.io/?EIO&transport=&sid",
        "/socket.io/?transport=polling&transport=websocket",
        "/socket.io/?%74ransport=%77ebsocket&EIO=%34",
        "/socket.io/?sid=a+b%2Bc&EIO=4=4",
        "/socket.io/?sid=%zz&EIO=%4",
        "/socket.io/?SID=x&eio=4&Transport=websocket",
        "/socket.io/?é=1&sid=ü",
    ])
    func agreesWithTheFullParser(uri: String) {
        let full = HTTPQuery.parse(uri)
        #expect(EngineIOQuery(uri: uri) == EngineIOQuery(transport: full["transport"], sid: full["sid"], eio: full["EIO"]))
    }
}

/// Session ids from the pooled random bits: the reference server's shape, and no repeats across many pool refills.
@Suite struct SessionIDTests {
    @Test func idsAreTwentyURLSafeCharactersAndDistinct() {
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let ids = (0..<2000).map { _ in EngineIOServer.makeSessionID() }
        #expect(ids.allSatisfy { $0.count == 20 && $0.allSatisfy(alphabet.contains) })
        #expect(Set(ids).count == ids.count)
        // Consecutive ids share no 8-byte run of the pool (each takes 16 fresh bytes).
        #expect(zip(ids, ids.dropFirst()).allSatisfy { $0.prefix(10) != $1.prefix(10) })
    }
}
