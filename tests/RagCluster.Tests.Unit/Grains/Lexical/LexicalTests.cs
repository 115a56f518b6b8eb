using RagCluster.Grains.Lexical;
using RagCluster.Grains.Querying;
using RagCluster.Grains.Retrieval;

namespace RagCluster.Tests.Rag;

[Trait("Category", "Unit")]
public sealed class LexicalTests
{
    [Fact]
    public void Bm25_scores_match_the_formula_and_rank_rare_terms_higher()
    {
        var index = new Bm25Index();
        index.Add(0, "the cat sat on the mat");
        index.Add(1, "the dog chased the cat around the garden");
        index.Add(2, "quantum entanglement of photons");
        var hits = index.Search("cat", 10);
        Assert.Equal(2, hits.Count);
        // Hand computation: N=3, df=1... df(cat)=2 → idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln(1.6)
        var lens = new[] { TextAnalyzer.Terms("the cat sat on the mat").Count, TextAnalyzer.Terms("the dog chased the cat around the garden").Count, TextAnalyzer.Terms("quantum entanglement of photons").Count };
        var avg = lens.Average();
        double Score(int len) => Math.Log(1.6) * (1 * 2.2) / (1 + 1.2 * (1 - 0.75 + 0.75 * len / avg));
        Assert.Equal(0, hits[0].Doc); // shorter document wins at equal tf
        Assert.Equal(Score(lens[0]), hits[0].Score, 4);
        Assert.Equal(Score(lens[1]), hits[1].Score, 4);
        Assert.Equal(2, index.Search("photon entanglement", 1)[0].Doc); // plural folded by the stemmer
    }

    [Fact]
    public void Removed_documents_disappear_and_stats_follow()
    {
        var index = new Bm25Index();
        for (var i = 0; i < 5000; i++) index.Add(i, i % 2 == 0 ? $"even document number {i} alpha" : $"odd document number {i} beta");
        for (var i = 0; i < 5000; i += 2) index.Remove(i); // enough removals to trigger compaction
        Assert.Equal(2500, index.DocumentCount);
        Assert.Empty(index.Search("alpha", 10));
        var beta = index.Search("beta", 10);
        Assert.Equal(10, beta.Count);
        Assert.All(beta, h => Assert.Equal(1, h.Doc % 2));
        Assert.Empty(index.Search("", 10));
        Assert.Empty(index.Search("the of and", 10)); // only stop words
        Assert.All(index.Search("document", 5, doc => doc % 10 == 1), h => Assert.Equal(1, h.Doc % 10));
        index.Add(1, "replaced text gamma");
        Assert.Equal(1, index.Search("gamma", 5).Single().Doc);
        Assert.DoesNotContain(index.Search("beta", 3000), h => h.Doc == 1);
    }

    [Fact]
    public void Analyzer_folds_case_accents_and_plurals()
    {
        Assert.Equal(["cafe", "protein", "study", "bus"], TextAnalyzer.Terms("Café, the PROTEINS; studies bus"));
    }

    [Fact]
    public void Reciprocal_rank_fusion_rewards_agreement()
    {
        IReadOnlyList<string> dense = ["a", "b", "c", "d"];
        IReadOnlyList<string> lexical = ["c", "a", "e"];
        var fused = RankFusion.Reciprocal([dense, lexical], k: 60);
        Assert.Equal(["a", "c", "b", "e", "d"], fused.Select(f => f.Key));
        Assert.Equal(1.0 / 61 + 1.0 / 62, fused[0].Score, 10);
        var weighted = RankFusion.Reciprocal([dense, lexical], k: 60, weights: [0.1, 1.0]);
        Assert.Equal("c", weighted[0].Key);
        Assert.Empty(RankFusion.Reciprocal(Array.Empty<IReadOnlyList<string>>()));
    }

    [Fact]
    public void Coverage_says_how_much_of_the_query_the_best_hit_holds_and_sets_the_default_hybrid_weight()
    {
        var index = new Bm25Index();
        index.Add(0, "Green tea is brewed at 80 degrees for two to three minutes.");
        index.Add(1, "Iron rusts when exposed to water and oxygen, forming iron oxide over time.");
        index.Add(2, "Adults need seven to nine hours of sleep a night for good health.");
        index.Add(3, "Brewing green tea with water at 80 degrees keeps it from turning bitter.");
        double Coverage(string query) => TextAnalyzer.Terms(query) is var terms ? index.Search(terms, 1)[0].Score / index.Ceiling(terms) : 0;
        // Every query word in a chunk of about average length: about the ceiling. One word of four, one a word no chunk holds: a fraction.
        Assert.InRange(Coverage("green tea water degrees"), 0.8, 1.2);
        Assert.InRange(Coverage("how hot should the water be for a cuppa"), 0.05, 0.25);
        Assert.Equal(index.Ceiling(["green", "tea"]), index.Ceiling(["tea", "green", "tea"]), 5); // each word once
        // The hybrid plan's weight on meaning when a query names none: 0.95 where the words matched little, 0.5 where they matched.
        Assert.Equal(0.95, HybridFusion.AdaptiveAlpha(0.1), 10);
        Assert.Equal(0.5, HybridFusion.AdaptiveAlpha(0.9), 10);
        Assert.InRange(HybridFusion.AdaptiveAlpha(0.3), 0.51, 0.94);
        Assert.Equal(0.7, HybridFusion.For("relative", 0.7).Fuse([(0, 1), (1, 0)], [(1, 1), (0, 0)], 0.1)[0].Score, 10); // an alpha asked for is kept
    }
}
