import HeraldPercentCoding
import Testing

/// The one `%XX` codec behind every query, path and configuration URL.
@Suite struct PercentCodingTests {
    @Test(arguments: [
        ("plain", "plain"), ("a%20b", "a b"), ("%e2%82%AC", "€"), ("a+b", "a+b"), ("", ""),
        // A `%` without two hex digits after it stays, with what follows it (Node's querystring does the same).
        ("100%", "100%"), ("%4", "%4"), ("%zz1", "%zz1"), ("%+F", "%+F"), ("%%41", "%A"),
        // Invalid UTF-8 after decoding is replaced, never trapped on.
        ("%FF", "\u{FFFD}"),
    ])
    func decodes(encoded: String, decoded: String) {
        #expect(PercentCoding.decode(Substring(encoded)) == decoded)
    }

    @Test func plusIsASpaceOnlyInQueryStrings() {
        #expect(PercentCoding.decode("a+b%2B", plusAsSpace: true) == "a b+")
        #expect(PercentCoding.decode("a+b%2B") == "a+b+")
    }

    @Test func decodesASubstringInTheMiddleOfItsString() {
        let text = "room=a%2Fb&x=1"
        let value = text[text.index(text.startIndex, offsetBy: 5)..<text.firstIndex(of: "&")!]
        #expect(PercentCoding.decode(value) == "a/b")
    }

    @Test func strictDecodingRejectsBadEscapes() {
        #expect(PercentCoding.decodeStrictly("p%40ss") == "p@ss")
        #expect(PercentCoding.decodeStrictly("p+ss") == "p+ss")
        for bad in ["100%", "%4", "%zz", "%+F", "a%g0"] {
            #expect(PercentCoding.decodeStrictly(Substring(bad)) == nil)
        }
    }

    @Test func encodesAllButUnreservedAndRoundTrips() {
        #expect(PercentCoding.encode("Az09-._~") == "Az09-._~")
        #expect(PercentCoding.encode("a b&c=d/€") == "a%20b%26c%3Dd%2F%E2%82%AC")
        let every = String(decoding: (1...255).map { UInt8($0) }.filter { $0 < 0x80 }, as: UTF8.self) + "€ü"
        #expect(PercentCoding.decode(Substring(PercentCoding.encode(every))) == every)
    }
}
