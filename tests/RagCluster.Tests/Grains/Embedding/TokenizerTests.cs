using System.Text;
using System.Text.Json;
using RagCluster.Grains.Text;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class TokenizerTests
{
    private static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.FromDirectory(RepoPaths.TokenizerDir));

    [Fact]
    public void Ids_equal_huggingface_tokenizers_on_1200_varied_strings()
    {
        var texts = VariedStrings(1200, seed: 7);
        const int max = 512;
        var reference = ReferenceIds(texts, max);
        Assert.Equal(texts.Count, reference.Count);
        var mismatches = new List<string>();
        for (var i = 0; i < texts.Count; i++)
        {
            var full = reference[i];
            // Reference gives [CLS] ... [SEP] untruncated; truncation keeps the first max-2 pieces and re-adds [SEP].
            var expected = full.Length <= max ? full : [.. full.Take(max - 1), Tokenizer.Value.SepId];
            var actual = Tokenizer.Value.Encode(texts[i], max);
            if (!expected.SequenceEqual(actual))
                mismatches.Add($"#{i} {JsonSerializer.Serialize(texts[i])[..Math.Min(120, JsonSerializer.Serialize(texts[i]).Length)]}: expected [{string.Join(",", expected.Take(20))}] got [{string.Join(",", actual.Take(20))}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {texts.Count} differ:\n{string.Join("\n", mismatches.Take(10))}");
        Assert.Contains(texts, t => Tokenizer.Value.Tokenize(t).Count > max); // truncation really exercised
    }

    [Fact]
    public void Ascii_text_takes_a_fast_path_that_gives_what_the_general_path_gives()
    {
        // One character that is not ASCII, in a word of its own, sends the same text down the general path.
        var rng = new Random(5);
        for (var i = 0; i < 300; i++)
        {
            var ascii = new string(Enumerable.Range(0, rng.Next(1, 200)).Select(_ => (char)(rng.Next(4) == 0 ? rng.Next(0, 128) : rng.Next('A', 'z' + 1))).ToArray());
            var general = Tokenizer.Value.Tokenize(ascii + " \u00E9");
            Assert.Equal(general[..^1], Tokenizer.Value.Tokenize(ascii));
        }
    }

    [Fact]
    public void Known_sentence_matches_published_ids()
    {
        // bert-base-uncased ids for this sentence, as printed by the reference tokenizer.
        Assert.Equal([101, 7592, 1010, 2088, 999, 102], Tokenizer.Value.Encode("Hello, World!", 512));
    }

    [Fact]
    public void Encode_respects_tiny_limits_and_empty_text()
    {
        var t = Tokenizer.Value;
        Assert.Equal([t.ClsId, t.SepId], t.Encode("", 16));
        Assert.Equal([t.ClsId, t.SepId], t.Encode("anything at all", 2));
        Assert.Equal(4, t.Encode("one two three four five", 4).Length);
        Assert.Equal([t.ClsId, t.UnkId, t.SepId], t.Encode(new string('x', 101), 16)); // longer than max chars per word
    }

    private static List<int[]> ReferenceIds(List<string> texts, int max)
    {
        var module = Path.Combine(RepoPaths.Tools, "reftok", "node_modules", "@huggingface", "tokenizers", "dist", "tokenizers.mjs");
        if (!File.Exists(module)) throw new InvalidOperationException($"{module} is missing: run scripts/setup.sh");
        var script = Path.Combine(AppContext.BaseDirectory, "Reference", "tokenize.mjs");
        var json = RepoPaths.Run("node", [script, RepoPaths.TokenizerDir, "100000"], JsonSerializer.Serialize(texts),
            new Dictionary<string, string> { ["REFTOK_MODULE"] = module });
        return JsonSerializer.Deserialize<List<int[]>>(json)!;
    }

    /// <summary>Seeded mix of vocabulary words, accents, CJK, emoji, punctuation, controls, odd spaces and long runs.</summary>
    internal static List<string> VariedStrings(int count, int seed)
    {
        var rng = new Random(seed);
        var vocab = File.ReadAllLines(Path.Combine(RepoPaths.TokenizerDir, "vocab.txt")).Where(w => !w.StartsWith('[')).ToArray();
        string[] fragments =
        [
            "Café", "naïve", "résumé", "Ångström", "Straße", "İstanbul", "ΣΊΣΥΦΟΣ", "Москва", "日本語のテキスト", "你好世界", "한국어",
            "🙂", "👩‍🔬", "e\u0301", "\u00A0", "\u2003", "\u200B", "\u2028", "\t", "\r\n", "\u0007", "\u0000", "\uFFFD", "\u0085", "\u000B", "\u000C", "\u001F", "\u007F",
            "don't", "U.S.A.", "3.14159", "1,000,000", "C++", "#hashtag", "@user", "e-mail", "x²", "½", "—", "…", "«quoted»",
            "“smart”", "(parens)", "[brackets]", "{braces}", "http://example.com/a?b=c", "snake_case_word", "CamelCaseWord",
            "antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis", "ﬁnancial", "Ⅻ", "ℌ", "ｆｕｌｌｗｉｄｔｈ",
            "عربى", "עברית", "हिन्दी", "ไทย", "ḍōṭs", "\U0001D400",
        ];
        var list = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            var kind = i % 10;
            var words = kind == 9 ? rng.Next(300, 700) : rng.Next(1, 30); // every tenth string is long: truncation
            for (var w = 0; w < words; w++)
            {
                var r = rng.NextDouble();
                if (r < 0.55) sb.Append(vocab[rng.Next(vocab.Length)].Replace("##", ""));
                else if (r < 0.8) sb.Append(fragments[rng.Next(fragments.Length)]);
                else if (r < 0.9) sb.Append((char)rng.Next(0x21, 0x7F));
                else if (r < 0.95) sb.Append(new string((char)rng.Next('a', 'z' + 1), rng.Next(90, 130))); // around the 100-char word limit
                else sb.Append(AssignedChar(rng));
                sb.Append(rng.NextDouble() < 0.85 ? " " : rng.NextDouble() < 0.5 ? "" : "\n");
            }
            if (kind == 3) sb.Append(sb.ToString().ToUpperInvariant());
            var s = sb.ToString();
            // Never emit a lone surrogate: both tokenizers would see different strings after UTF-8 encoding.
            list.Add(s.Normalize(NormalizationForm.FormC) is var n && IsWellFormed(n) ? n : s);
        }
        return list;

        // Unassigned code points are left out: whether they count as assigned depends on the Unicode version of
        // each runtime's tables, not on the tokenizer. Also left out: supplementary-plane ideographs (U+20000…),
        // which tokenizers.js misses when spacing out CJK (it tests UTF-16 units) while the Rust tokenizer and this
        // one space them out.
        static string AssignedChar(Random rng)
        {
            while (true)
            {
                var c = (char)rng.Next(0xA0, 0x3000);
                if (System.Globalization.CharUnicodeInfo.GetUnicodeCategory(c) != System.Globalization.UnicodeCategory.OtherNotAssigned) return c.ToString();
            }
        }

        static bool IsWellFormed(string s)
        {
            for (var k = 0; k < s.Length; k++)
            {
                if (char.IsHighSurrogate(s[k])) { if (k + 1 >= s.Length || !char.IsLowSurrogate(s[k + 1])) return false; k++; }
                else if (char.IsLowSurrogate(s[k])) return false;
            }
            return true;
        }
    }
}
