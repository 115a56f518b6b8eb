using RagCluster.Client;
using RagCluster.Grains.Embedding.BuiltIn;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// What the built-in real models are for: questions that share no word with the document that answers them (a
/// paraphrase, synonyms) are found by meaning, through the HTTP API on a TestCluster silo. BM25 cannot find them,
/// the vector and hybrid plans and the default plan put them first, and `ask` cites them.
/// </summary>
public sealed class MeaningTests
{
    private static readonly DocumentInput[] Corpus =
    [
        new("tea") { Text = "Green tea should be brewed with water at about 80 degrees Celsius for two minutes." },
        new("car") { Text = "Change the engine oil of an automobile every ten thousand kilometres to keep it running well." },
        new("dog") { Text = "Puppies need several vaccinations during their first months of life." },
        new("rain") { Text = "Umbrellas keep people dry when it pours outside." },
        new("bank") { Text = "To open a savings account, bring your passport to the branch office." },
        new("sleep") { Text = "Adults should get seven to nine hours of sleep each night." },
        new("code") { Text = "Python lists can be sorted in place with the sort method." },
        new("fire") { Text = "If the kitchen catches fire, smother the flames with a lid and turn off the stove." },
    ];

    // Each shares no word (nor stem) with any document of the corpus.
    public static TheoryData<string, string, string> Paraphrases => new()
    {
        { "minilm", "How do I look after my vehicle's motor?", "car" },
        { "minilm", "What immunisations do young canines require?", "dog" },
        { "minilm", "How much slumber does a grown person require per evening?", "sleep" },
        { "arctic-xs", "How do I look after my vehicle's motor?", "car" },
        { "arctic-xs", "What immunisations do young canines require?", "dog" },
        { "arctic-xs", "How much slumber does a grown person require per evening?", "sleep" },
    };

    private static async Task<(RagTestCluster Cluster, RagClusterClient Client)> StartAsync(string model)
    {
        Assert.NotNull(BuiltInModel.Find(model));
        var cluster = await RagTestCluster.StartAsync(1, api: true, settings: new() { ["Embedding:Model"] = model, ["Embedding:ExecutionProvider"] = "cpu" });
        var client = new RagClusterClient(cluster.ApiUrl!, RagTestCluster.ApiAdminKey);
        await client.EnsureCollectionAsync(new("kb"));
        // A new collection's chunks fill the model's window (Collections:ChunkMaxTokens 0).
        Assert.Equal(BuiltInModel.Find(model)!.MaxTokens, (await client.GetCollectionAsync("kb")).Settings.ChunkMaxTokens);
        await client.IngestBatchAsync("kb", Corpus);
        var settled = await client.SettledAsync("kb", Corpus.Select(d => d.Id), seconds: 60);
        Assert.All(settled.Values, s => Assert.Equal("indexed", s.Status));
        return (cluster, client);
    }

    [Theory]
    [MemberData(nameof(Paraphrases))]
    public async Task A_paraphrase_is_found_by_meaning_and_missed_by_bm25(string model, string query, string expected)
    {
        var (cluster, client) = await StartAsync(model);
        await using var _ = cluster;
        var bm25 = await client.SearchAsync("kb", new SearchRequest(query) { TopK = 5, Plan = "bm25" });
        Assert.DoesNotContain(bm25.Hits, h => h.DocumentId == expected);
        foreach (var plan in new[] { "vector", "hybrid", "hybrid-k10", "auto" })
        {
            var found = await client.SearchAsync("kb", new SearchRequest(query) { TopK = 3, Plan = plan });
            Assert.True(found.Hits.Length > 0 && found.Hits[0].DocumentId == expected,
                $"{plan}: expected '{expected}' first, got [{string.Join(", ", found.Hits.Select(h => $"{h.DocumentId} {h.Score:F3}"))}]");
        }
    }

    // Issue 58's new user: reciprocal rank fusion gave rust's one lexical match on "water" the weight of tea's meaning
    // match and ranked rust first; relative score fusion, the default, keeps the strong meaning match first.
    [Fact]
    public async Task A_strong_meaning_match_outranks_a_one_word_lexical_match_and_rrf_can_still_be_asked_for()
    {
        var (cluster, client) = await StartAsync("arctic-xs");
        await using var _ = cluster;
        await client.EnsureCollectionAsync(new("cuppa"));
        DocumentInput[] three =
        [
            new("tea") { Text = "Green tea is brewed at 80 °C for two to three minutes." },
            new("rust") { Text = "Iron rusts when exposed to water and oxygen, forming iron oxide over time." },
            new("sleep") { Text = "Adults need seven to nine hours of sleep a night for good health." },
        ];
        await client.IngestBatchAsync("cuppa", three);
        await client.SettledAsync("cuppa", three.Select(d => d.Id), seconds: 60);
        const string question = "how hot should the water be for a cuppa";
        string First(SearchReply r) => r.Hits[0].DocumentId;
        Assert.Equal("tea", First(await client.SearchAsync("cuppa", new SearchRequest(question) { TopK = 3 })));
        Assert.Equal("rust", First(await client.SearchAsync("cuppa", new SearchRequest(question) { TopK = 3, Plan = "bm25" })));
        Assert.Equal("rust", First(await client.SearchAsync("cuppa", new SearchRequest(question) { TopK = 3, Plan = "hybrid", Fusion = "rrf" })));
        Assert.Equal("rust", First(await client.SearchAsync("cuppa", new SearchRequest(question) { TopK = 3, Plan = "hybrid", Alpha = 0.3 })));
    }

    [Theory]
    [InlineData("minilm")]
    [InlineData("arctic-xs")]
    public async Task Ask_cites_the_document_that_answers_a_question_in_other_words(string model)
    {
        var (cluster, client) = await StartAsync(model);
        await using var _ = cluster;
        var ask = await client.AskAsync("kb", new AskRequest("What is the right heat for steeping a leafy beverage?") { TopK = 3 });
        Assert.Equal("tea", ask.Citations[0].DocumentId);
        Assert.Contains("80 degrees", ask.Answer);
        if (model == BuiltInModel.ArcticXs.Name) await AssertSentenceChosenByMeaning(client); // the default model
    }

    // Issue 75: the sentence that answers by meaning is the answer's best, not the one sharing the question's words;
    // a document's title is never quoted as a sentence (asked of the default model, on the cluster the theory above started).
    private static async Task AssertSentenceChosenByMeaning(RagClusterClient client)
    {
        await client.EnsureCollectionAsync(new("shop"));
        await client.IngestAsync("shop", new DocumentInput("guide")
        {
            Format = "md",
            Text = "# The Tea Room\n\nMany people enjoy tea, and our shop sells water filters for the kitchen. "
                 + "Green leaves taste best when the kettle is stopped at eighty degrees. Our shop opens at nine on weekdays.",
        });
        await client.SettledAsync("shop", ["guide"], seconds: 60);
        var ask = await client.AskAsync("shop", new AskRequest("What temperature should the water have for brewing tea?"));
        var best = ask.Citations.MaxBy(c => c.Score)!;
        Assert.Equal("Green leaves taste best when the kettle is stopped at eighty degrees.", best.Quote);
        Assert.DoesNotContain("Tea Room", ask.Answer);
        Assert.DoesNotContain("opens at nine", ask.Answer); // the passage's off-topic sentence
        var chunk = (await client.GetDocumentContentsAsync("shop", ["guide"])).Single().Chunks.Single(); // offsets count in the document's text
        Assert.Equal(best.Quote, chunk.Text[(best.Start - chunk.Start)..(best.End - chunk.Start)]);
    }
}
