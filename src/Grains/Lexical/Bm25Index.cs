namespace RagCluster.Grains.Lexical;

/// <summary>
/// Okapi BM25 inverted index over a shard's chunks (Lucene's idf: ln(1 + (N - df + 0.5) / (df + 0.5))).
/// Documents are dense int ids chosen by the caller; removal is a tombstone plus stats update, and postings
/// are compacted once a quarter of them are dead. Not thread-safe (the shard grain is single-threaded).
/// </summary>
public sealed class Bm25Index(Bm25Options? options = null)
{
    private readonly Bm25Options _options = options ?? new Bm25Options();
    private readonly Dictionary<string, int> _termIds = new(StringComparer.Ordinal);
    private readonly List<List<(int Doc, int Tf, int Gen)>> _postings = [];
    private readonly List<int> _df = [];
    // Per document, indexed by its id (a shard's dense slot numbers), not hashed: a shard's reload adds every chunk
    // again, and three dictionaries of a shard's size cost that reload more time and memory than arrays.
    // A document id re-added after removal gets a new generation, so its old postings stay dead.
    private int[] _generation = [];
    private (int TermId, int Tf)[]?[] _docTerms = [];
    private int[] _docLength = []; // 0: not held (a document with no terms is never added)
    private readonly Dictionary<int, int> _counts = []; // Add's scratch
    private int _documentCount;
    private long _totalLength;
    private int _deadPostings;
    private int _livePostings;
    private float[] _scores = [];

    public int DocumentCount => _documentCount;
    public int TermCount => _termIds.Count;

    public bool Contains(int doc) => (uint)doc < (uint)_docLength.Length && _docLength[doc] > 0;

    public void Add(int doc, string text) => Add(doc, TextAnalyzer.Terms(text));

    public void Add(int doc, IReadOnlyList<string> terms)
    {
        if (doc < 0) throw new ArgumentOutOfRangeException(nameof(doc));
        if (Contains(doc)) Remove(doc);
        // Nothing to find it by (a chunk that came with a vector and no text): it costs no entry, and counts in no statistic.
        if (terms.Count == 0) return;
        var counts = _counts;
        counts.Clear();
        foreach (var t in terms)
        {
            if (!_termIds.TryGetValue(t, out var id))
            {
                id = _postings.Count;
                _termIds[t] = id;
                _postings.Add([]);
                _df.Add(0);
            }
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }
        if (_docLength.Length <= doc)
        {
            var size = Math.Max(doc + 1, _docLength.Length * 2);
            Array.Resize(ref _docLength, size);
            Array.Resize(ref _generation, size);
            Array.Resize(ref _docTerms, size);
            Array.Resize(ref _scores, size); // scratch for Search
        }
        var gen = ++_generation[doc];
        var docTerms = new (int, int)[counts.Count];
        var i = 0;
        foreach (var (id, tf) in counts)
        {
            _postings[id].Add((doc, tf, gen));
            _df[id]++;
            docTerms[i++] = (id, tf);
        }
        _livePostings += docTerms.Length;
        _docTerms[doc] = docTerms;
        _docLength[doc] = terms.Count;
        _documentCount++;
        _totalLength += terms.Count;
    }

    public bool Remove(int doc)
    {
        if (!Contains(doc)) return false;
        var terms = _docTerms[doc]!;
        _docTerms[doc] = null;
        foreach (var (id, _) in terms) _df[id]--;
        _totalLength -= _docLength[doc];
        _docLength[doc] = 0;
        _documentCount--;
        _deadPostings += terms.Length;
        _livePostings -= terms.Length;
        if (_deadPostings > 1024 && _deadPostings > _livePostings / 3) Compact();
        return true;
    }

    private bool IsLive(int doc, int gen) => _docLength[doc] > 0 && _generation[doc] == gen;

    private void Compact()
    {
        foreach (var list in _postings) list.RemoveAll(p => !IsLive(p.Doc, p.Gen));
        _deadPostings = 0;
    }

    public List<(int Doc, float Score)> Search(string query, int k, Func<int, bool>? accept = null) =>
        Search(TextAnalyzer.Terms(query), k, accept);

    /// <summary>
    /// What a chunk of average length holding each query term once would score: the sum of the terms' idf, a term
    /// this index lacks counting as the rarest. The top hit's share of it says how much of the query the words matched.
    /// </summary>
    public float Ceiling(IReadOnlyList<string> queryTerms)
    {
        var n = _documentCount;
        var ceiling = 0f;
        foreach (var term in queryTerms.Distinct())
        {
            var df = _termIds.TryGetValue(term, out var id) ? _df[id] : 0;
            ceiling += MathF.Log(1 + (n - df + 0.5f) / (df + 0.5f));
        }
        return ceiling;
    }

    public List<(int Doc, float Score)> Search(IReadOnlyList<string> queryTerms, int k, Func<int, bool>? accept = null)
    {
        var result = new List<(int, float)>();
        var n = _documentCount;
        if (n == 0 || k <= 0) return result;
        var avgdl = (float)_totalLength / n;
        var touched = new List<int>();

        foreach (var term in queryTerms.Distinct())
        {
            if (!_termIds.TryGetValue(term, out var id) || _df[id] == 0) continue;
            var df = _df[id];
            var idf = MathF.Log(1 + (n - df + 0.5f) / (df + 0.5f));
            foreach (var (doc, tf, gen) in _postings[id])
            {
                if (!IsLive(doc, gen)) continue;
                var len = _docLength[doc];
                var norm = tf * (_options.K1 + 1) / (tf + _options.K1 * (1 - _options.B + _options.B * len / avgdl));
                if (_scores[doc] == 0) touched.Add(doc);
                _scores[doc] += idf * norm;
            }
        }

        // Top-k by partial sort of the touched documents; reset the scratch scores as we go.
        var heap = new PriorityQueue<int, float>(k + 1);
        foreach (var doc in touched)
        {
            var s = _scores[doc];
            _scores[doc] = 0;
            if (accept is not null && !accept(doc)) continue;
            if (heap.Count < k) heap.Enqueue(doc, s);
            else if (heap.TryPeek(out _, out var worst) && s > worst) { heap.Dequeue(); heap.Enqueue(doc, s); }
        }
        while (heap.TryDequeue(out var doc, out var s)) result.Add((doc, s));
        result.Reverse();
        return result;
    }
}
