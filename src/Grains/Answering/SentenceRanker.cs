using System.Numerics.Tensors;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Caching;
using RagCluster.Grains.Embedding;
using RagCluster.Grains.Interfaces.Errors;
using RagCluster.Grains.Interfaces.Querying;
using RagCluster.Grains.Lexical;

namespace RagCluster.Grains.Answering;

public sealed record ScoredSentence(CandidateSentence Sentence, double Score);

/// <summary>
/// Scores the candidate sentences of a search's hits against the question: by meaning (the cosine of the model's
/// vectors), by words (BM25 over the sentences, in the collection's language) and by the rank of their passage.
/// Where no silo can embed them now, by words and rank alone.
/// </summary>
public sealed class SentenceRanker(Embedder embedder, ILogger<SentenceRanker> log)
{
    /// <param name="questions">The question as searched (a follow-up: as asked, and with the question before it); a sentence's cosine is its mean over them, its BM25 against their words together.</param>
    /// <param name="hits">The search's hits, best first.</param>
    /// <param name="analyzer">The collection's BM25 terms.</param>
    /// <param name="byMeaning">Whether the model scores them (Query:AnswerByMeaning); with false, or no model, words and rank alone.</param>
    /// <param name="ct">Cancels the embedding.</param>
    public async Task<List<ScoredSentence>> ScoreAsync(IReadOnlyList<string> questions, IReadOnlyList<SearchHit> hits, TermAnalyzer analyzer, bool byMeaning, CancellationToken ct)
    {
        var candidates = CandidateSentences.Of(hits);
        var bm25 = Bm25(string.Join(' ', questions), candidates, analyzer);
        var cosine = byMeaning && candidates.Count > 0 && embedder.DenseRetrieval ? await CosinesAsync(questions, candidates, ct) : null;
        var top = Math.Max(1e-9, bm25.DefaultIfEmpty(0).Max());
        var last = Math.Max(1, hits.Count - 1);
        return candidates.Select((c, i) => new ScoredSentence(c,
            (cosine?[i] ?? 0) + (cosine is null ? WordsAloneWeight : LexicalWeight) * bm25[i] / top - RankWeight * c.Hit / last)).ToList();
    }

    // Weights tuned on scifact-train's questions 201-809 and reported on its first 200 (bench/results, issue 75):
    // the sentence's meaning first, its words a little, and the search's rank of its passage as a prior, since the
    // search ranks documents better than one sentence's similarity does.
    /// <summary>BM25's share beside the cosine, scaled to the best sentence's BM25.</summary>
    public const double LexicalWeight = 0.05;
    /// <summary>What the last of the search's hits loses against the first (linear in the hit's rank).</summary>
    public const double RankWeight = 0.1;
    /// <summary>BM25's weight with no cosine: the rank then counts half as much as the best sentence's words.</summary>
    public const double WordsAloneWeight = 0.2;

    // Sentence and question vectors by text: a question asked again (its search then comes from a cache) embeds
    // nothing, and a passage's sentences are embedded once while they keep being retrieved.
    private readonly BoundedLru<float[]> _vectors = new(8192, 16L << 20);
    private readonly Lock _vectorsLock = new();

    private async Task<double[]?> CosinesAsync(IReadOnlyList<string> questions, List<CandidateSentence> candidates, CancellationToken ct)
    {
        var q = questions.Count;
        var keys = questions.Select(x => "q\u0001" + x).Concat(candidates.Select(c => "p\u0001" + c.Text)).ToArray();
        var vectors = new float[keys.Length][];
        lock (_vectorsLock)
            for (var i = 0; i < keys.Length; i++) _vectors.TryGet(keys[i], out vectors[i]!);
        var missing = Enumerable.Range(0, keys.Length).Where(i => vectors[i] is null).ToArray();
        if (missing.Length > 0)
        {
            await embedder.ModelLoaded.WaitAsync(ct);
            var local = embedder.Local;
            // One call in the query lane (a question waits behind no ingest): the question framed as a query, the sentences as passages, as chunks are.
            var sequences = missing.Select(i => i < q ? local.TokenIds(questions[i], EmbeddingKind.Query) : local.TokenIds(candidates[i - q].Text, EmbeddingKind.Passage)).ToArray();
            float[][] embedded;
            try
            {
                embedded = await embedder.EmbedAsync(sequences, EmbeddingKind.Query, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested && (e is EmbeddingUnavailableException || DocumentRefusal.IsTransient(e)))
            {
                log.SentencesNotEmbedded(e.Message.Split('\n')[0]);
                return null;
            }
            lock (_vectorsLock)
                for (var j = 0; j < missing.Length; j++)
                {
                    vectors[missing[j]] = embedded[j];
                    _vectors.Set(keys[missing[j]], embedded[j], 4L * embedded[j].Length + 2L * keys[missing[j]].Length + 64);
                }
        }
        return vectors.Skip(q).Select(v => Enumerable.Range(0, q).Average(i => (double)TensorPrimitives.CosineSimilarity(vectors[i], v))).ToArray();
    }

    // BM25 with each candidate sentence as a document of a throwaway index: the statistics are those of the sentences at hand.
    private static double[] Bm25(string question, List<CandidateSentence> candidates, TermAnalyzer analyzer)
    {
        var index = new Bm25Index();
        for (var i = 0; i < candidates.Count; i++) index.Add(i, analyzer.Terms(candidates[i].Text));
        var scores = new double[candidates.Count];
        foreach (var (doc, score) in index.Search(analyzer.Terms(question), candidates.Count)) scores[doc] = score;
        return scores;
    }
}
