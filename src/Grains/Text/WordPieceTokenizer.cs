using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RagCluster.Grains.Text;

// Written by hand because Microsoft.ML.Tokenizers 2.0.1's BertTokenizer is not a drop-in: on 1,000 seeded plain-English
// strings it agrees with the Hugging Face reference on 441 (this one: 1,000; TokenizerTests checks against the reference).
// It turns newlines into word continuations and drops + = | ~ $ < >, emoji and ², which changes the vectors.
/// <summary>
/// BERT uncased WordPiece, as Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece model do it:
/// clean control characters, space out CJK ideographs, lower-case and strip accents, split on whitespace and
/// punctuation, then greedy longest-match sub-words with the "##" prefix. Thread-safe after construction.
/// </summary>
public sealed class WordPieceTokenizer
{
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string _prefix;
    private readonly int _maxCharsPerWord;
    private readonly bool _lowercase;
    private readonly bool _stripAccents;
    private readonly bool _handleChineseChars;
    private readonly int _maxKeyLength;

    // What each ASCII character is to the normaliser and the pre-tokeniser, taken from the general rules below so the two
    // paths cannot disagree: most text is ASCII, and the general path cost 68 ns a character on scifact-train.
    private enum AsciiKind : byte { Word, Space, Punctuation, Dropped }
    private static readonly AsciiKind[] AsciiNormalized = Enumerable.Range(0, 128).Select(c => new Rune(c) is var r && (c == 0 || IsControl(r))
        ? AsciiKind.Dropped : IsWhitespace(r) ? AsciiKind.Space : AsciiKind.Word).ToArray();
    private static readonly AsciiKind[] AsciiSplit = Enumerable.Range(0, 128).Select(c => new Rune(c) is var r && Rune.IsWhiteSpace(r)
        ? AsciiKind.Space : IsPunctuation(r) ? AsciiKind.Punctuation : AsciiKind.Word).ToArray();

    public WordPieceTokenizer(IReadOnlyDictionary<string, int> vocab, bool lowercase = true, bool? stripAccents = null,
        bool handleChineseChars = true, string continuingSubwordPrefix = "##", int maxInputCharsPerWord = 100,
        string unkToken = "[UNK]", string clsToken = "[CLS]", string sepToken = "[SEP]", string padToken = "[PAD]")
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        _lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _lowercase = lowercase;
        _stripAccents = stripAccents ?? lowercase; // BertNormalizer: unset strip_accents follows lowercase
        _handleChineseChars = handleChineseChars;
        _prefix = continuingSubwordPrefix;
        _maxCharsPerWord = maxInputCharsPerWord;
        _maxKeyLength = _vocab.Count == 0 ? 0 : _vocab.Keys.Max(k => k.Length);
        UnkId = Id(unkToken);
        ClsId = Id(clsToken);
        SepId = Id(sepToken);
        PadId = Id(padToken);

        int Id(string token) => _vocab.TryGetValue(token, out var id)
            ? id
            : throw new InvalidDataException($"vocabulary has no '{token}' token");
    }

    public int UnkId { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int PadId { get; }
    public int VocabularySize => _vocab.Count;

    /// <summary>Reads tokenizer.json (preferred) or vocab.txt from a model directory.</summary>
    public static WordPieceTokenizer FromDirectory(string directory)
    {
        var json = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(json)) return FromTokenizerJson(json);
        var vocabTxt = Path.Combine(directory, "vocab.txt");
        if (File.Exists(vocabTxt)) return FromVocabTxt(vocabTxt);
        throw new FileNotFoundException($"no tokenizer.json or vocab.txt in '{directory}'");
    }

    public static WordPieceTokenizer FromVocabTxt(string path, bool lowercase = true)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        var i = 0;
        foreach (var line in File.ReadLines(path))
        {
            var token = line.TrimEnd('\r', '\n');
            vocab.TryAdd(token, i);
            i++;
        }
        return new WordPieceTokenizer(vocab, lowercase);
    }

    public static WordPieceTokenizer FromTokenizerJson(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var model = root.GetProperty("model");
        if (model.TryGetProperty("type", out var type) && type.GetString() != "WordPiece")
            throw new InvalidDataException($"{path}: model type '{type.GetString()}' is not WordPiece");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) vocab[entry.Name] = entry.Value.GetInt32();

        bool lowercase = true, handleChinese = true;
        bool? strip = null;
        if (root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object)
        {
            if (norm.TryGetProperty("lowercase", out var lc)) lowercase = lc.GetBoolean();
            if (norm.TryGetProperty("handle_chinese_chars", out var hc)) handleChinese = hc.GetBoolean();
            if (norm.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False) strip = sa.GetBoolean();
        }
        var prefix = model.TryGetProperty("continuing_subword_prefix", out var p) ? p.GetString() ?? "##" : "##";
        var maxChars = model.TryGetProperty("max_input_chars_per_word", out var m) ? m.GetInt32() : 100;
        var unk = model.TryGetProperty("unk_token", out var u) ? u.GetString() ?? "[UNK]" : "[UNK]";
        return new WordPieceTokenizer(vocab, lowercase, strip, handleChinese, prefix, maxChars, unk);
    }

    /// <summary>Token ids without special tokens.</summary>
    public List<int> Tokenize(string text)
    {
        var ids = new List<int>();
        foreach (var (start, length) in PreTokenize(Normalize(text), out var normalized))
            AppendWordPieces(normalized.AsSpan(start, length), ids);
        return ids;
    }

    /// <summary>[CLS] tokens [SEP], truncated so the whole sequence is at most <paramref name="maxLength"/>.</summary>
    public int[] Encode(string text, int maxLength) => Frame(Tokenize(text), maxLength);

    /// <summary>[CLS] pieces [SEP] for word pieces already at hand, truncated as <see cref="Encode"/> truncates.</summary>
    public int[] Frame(IReadOnlyList<int> ids, int maxLength)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), "must leave room for [CLS] and [SEP]");
        var body = Math.Min(ids.Count, maxLength - 2);
        var result = new int[body + 2];
        result[0] = ClsId;
        for (var i = 0; i < body; i++) result[i + 1] = ids[i];
        result[body + 1] = SepId;
        return result;
    }

    /// <summary>Number of word pieces, without special tokens (what the chunker budgets with).</summary>
    public int CountTokens(string text) => Tokenize(text).Count;

    private string Normalize(string text)
    {
        if (System.Text.Ascii.IsValid(text)) return NormalizeAscii(text);
        var sb = new StringBuilder(text.Length + 16);
        foreach (var rune in text.EnumerateRunes())
        {
            var cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) { sb.Append(' '); continue; }
            if (_handleChineseChars && IsChineseChar(cp)) { Append(sb.Append(' '), rune).Append(' '); continue; }
            Append(sb, rune);
        }
        var s = sb.ToString();
        if (_lowercase) s = LowerCase(s);
        if (_stripAccents && !System.Text.Ascii.IsValid(s))
        {
            s = s.Normalize(NormalizationForm.FormD);
            var stripped = new StringBuilder(s.Length);
            foreach (var rune in s.EnumerateRunes())
                if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) Append(stripped, rune);
            s = stripped.ToString();
            // Letters whose lower case needs two code points (İ → i + U+0307) stay upper case in a 1:1 mapping;
            // once the accent is gone the base letter lower-cases normally.
            if (_lowercase) s = s.ToLowerInvariant();
        }
        return s;
    }

    // As Normalize does it for ASCII: controls dropped, white space one space, A-Z lower-cased (no accents, no CJK).
    private string NormalizeAscii(string text)
    {
        var chars = text.Length <= 4096 ? stackalloc char[text.Length] : new char[text.Length];
        var n = 0;
        foreach (var c in text)
        {
            switch (AsciiNormalized[c])
            {
                case AsciiKind.Dropped: continue;
                case AsciiKind.Space: chars[n++] = ' '; break;
                default: chars[n++] = _lowercase && c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c; break;
            }
        }
        return new string(chars[..n]);
    }

    private static StringBuilder Append(StringBuilder sb, Rune rune)
    {
        Span<char> units = stackalloc char[2];
        return sb.Append(units[..rune.EncodeToUtf16(units)]);
    }

    // Full lower-casing as JavaScript and Rust do it, including Greek final sigma (Σ at a word's end becomes ς),
    // which a per-character ToLower misses.
    private static string LowerCase(string s)
    {
        var lower = s.ToLowerInvariant();
        if (!s.Contains('\u03A3')) return lower;
        var chars = lower.ToCharArray();
        for (var i = 0; i < s.Length; i++)
            if (s[i] == '\u03A3' && IsFinalSigma(s, i)) chars[i] = '\u03C2';
        return new string(chars);
    }

    private static bool IsFinalSigma(string s, int i)
    {
        var before = i - 1;
        while (before >= 0 && IsCaseIgnorable(s[before])) before--;
        if (before < 0 || !IsCased(s[before])) return false;
        var after = i + 1;
        while (after < s.Length && IsCaseIgnorable(s[after])) after++;
        return after >= s.Length || !IsCased(s[after]);
    }

    private static bool IsCased(char c) => char.IsUpper(c) || char.IsLower(c) || CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(char c) =>
        c is '\'' or '.' or ':' or '\u00B7' or '\u2019' || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark
            or UnicodeCategory.EnclosingMark or UnicodeCategory.Format or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol;

    // BertPreTokenizer: split on whitespace, and every punctuation character is a word of its own.
    private static List<(int Start, int Length)> PreTokenize(string s, out string normalized)
    {
        normalized = s;
        var words = new List<(int, int)>();
        var start = -1;
        var i = 0;
        while (i < s.Length)
        {
            if (s[i] < 128)
            {
                switch (AsciiSplit[s[i]])
                {
                    case AsciiKind.Space:
                        if (start >= 0) { words.Add((start, i - start)); start = -1; }
                        break;
                    case AsciiKind.Punctuation:
                        if (start >= 0) { words.Add((start, i - start)); start = -1; }
                        words.Add((i, 1));
                        break;
                    default:
                        if (start < 0) start = i;
                        break;
                }
                i++;
                continue;
            }
            var rune = Rune.GetRuneAt(s, i);
            var width = rune.Utf16SequenceLength;
            if (Rune.IsWhiteSpace(rune))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
            }
            else if (IsPunctuation(rune))
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
                words.Add((i, width));
            }
            else if (start < 0) start = i;
            i += width;
        }
        if (start >= 0) words.Add((start, s.Length - start));
        return words;
    }

    private void AppendWordPieces(ReadOnlySpan<char> word, List<int> ids)
    {
        // The limit counts characters (code points), as the Rust implementation does.
        var charCount = 0;
        foreach (var _ in word.EnumerateRunes()) charCount++;
        if (charCount > _maxCharsPerWord) { ids.Add(UnkId); return; }

        var firstAdded = ids.Count;
        Span<char> buffer = stackalloc char[_prefix.Length + word.Length];
        _prefix.AsSpan().CopyTo(buffer);
        var start = 0;
        while (start < word.Length)
        {
            // No vocabulary entry is longer than _maxKeyLength: longer candidates are not looked up.
            var end = Math.Min(word.Length, start + _maxKeyLength - (start > 0 ? _prefix.Length : 0));
            var found = -1;
            while (end > start)
            {
                // Never cut a surrogate pair.
                if (end < word.Length && char.IsLowSurrogate(word[end])) { end--; continue; }
                scoped ReadOnlySpan<char> candidate;
                if (start > 0)
                {
                    word[start..end].CopyTo(buffer[_prefix.Length..]);
                    candidate = buffer[..(_prefix.Length + end - start)];
                }
                else candidate = word[..end];
                if (_lookup.TryGetValue(candidate, out var id)) { found = id; break; }
                end--;
            }
            if (found < 0)
            {
                ids.RemoveRange(firstAdded, ids.Count - firstAdded);
                ids.Add(UnkId);
                return;
            }
            ids.Add(found);
            start = end;
        }
    }

    // Checked after IsControl, so this is Unicode White_Space minus the control characters (\v, \f, U+0085).
    private static bool IsWhitespace(Rune r) => r.Value is '\t' or '\n' or '\r' || Rune.IsWhiteSpace(r);

    private static bool IsControl(Rune r)
    {
        if (r.Value is '\t' or '\n' or '\r') return false;
        var c = Rune.GetUnicodeCategory(r);
        // Cc, Cf, Co, Cs as tokenizers.js has it; unassigned code points (Cn) are kept, since they may be assigned in
        // a newer Unicode version than this runtime's.
        return c is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;
    }

    private static bool IsPunctuation(Rune r)
    {
        var cp = r.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(r) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    private static bool IsChineseChar(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B920 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
