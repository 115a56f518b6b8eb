using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RagCluster.Client;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// Collections that bring their own vectors: created with a dimension, fed chunks with vectors (numbers or base64
/// float32), searched with a query vector; every malformed vector is a 400 for its document alone, and nothing of it is stored.
/// </summary>
public sealed class OwnVectorTests(ApiProcess api) : IClassFixture<ApiProcess>
{
    private HttpClient Http => api.Http;
    private RagClusterClient Client => api.Client;

    private static float[] Axis(int i, float tilt = 0)
    {
        var v = new float[8];
        v[i] = 1;
        v[(i + 1) % 8] = tilt;
        return v;
    }

    private static string Base64(float[] v) => Convert.ToBase64String(v.SelectMany(BitConverter.GetBytes).ToArray()); // little-endian here

    private async Task<JsonElement> Problem(HttpResponseMessage r, HttpStatusCode expected)
    {
        Assert.Equal(expected, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        return await r.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>The document's status once it settled: indexed, failed, or notFound.</summary>
    private async Task<string> Status(string collection, string id) => (await Client.SettledAsync(collection, [id]))[id].Status;

    private Task<SearchReply> Search(string collection, float[] vector, int topK, Dictionary<string, string>? filter = null, string? plan = null) =>
        Client.SearchAsync(collection, new SearchRequest(null) { Vector = vector, TopK = topK, Filter = filter, Plan = plan });

    [Fact]
    public async Task A_flat_collection_is_fixed_at_creation_and_takes_float32_vectors_only()
    {
        var created = await Http.PostAsJsonAsync("v1/collections", new { name = "flat", dimensions = 8, indexKind = "flat" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("flat", (await Http.GetFromJsonAsync<JsonElement>("v1/collections/flat")).GetProperty("settings").GetProperty("indexKind").GetString());
        await Client.IngestManyAsync("flat", [new DocumentInput("a") { Chunks = [new ChunkInput("a") { Vector = Axis(0) }] }, new DocumentInput("b") { Chunks = [new ChunkInput("b") { Vector = Axis(1) }] }]);
        Assert.Equal("indexed", await Status("flat", "b"));
        Assert.Equal("b", (await Search("flat", Axis(1, 0.1f), 1)).Hits[0].DocumentId);
        Assert.Contains("\"hnsw\"", (await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "flat2", dimensions = 8, indexKind = "ivf" }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
        Assert.Contains("float32", (await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "flat3", dimensions = 8, indexKind = "flat", quantization = "int8" }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("l2", "hnsw")]
    [InlineData("dot", "flat")]
    public async Task A_dot_or_l2_collection_keeps_vectors_as_sent_and_scores_by_its_distance(string distance, string indexKind)
    {
        var name = "dist-" + distance;
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name, dimensions = 8, distance, indexKind })).StatusCode);
        Assert.Equal(distance, (await Http.GetFromJsonAsync<JsonElement>($"v1/collections/{name}")).GetProperty("settings").GetProperty("distance").GetString());
        float[] Scaled(float[] v, float by) => [.. v.Select(x => x * by)];
        await Client.IngestManyAsync(name,
        [
            new DocumentInput("near") { Chunks = [new ChunkInput("near") { Vector = Scaled(Axis(0), 1) }] },
            new DocumentInput("long") { Chunks = [new ChunkInput("long") { Vector = Scaled(Axis(0), 3) }] },
            new DocumentInput("other") { Chunks = [new ChunkInput("other") { Vector = Axis(1) }] },
        ]);
        Assert.Equal("indexed", await Status(name, "other"));
        var hits = (await Search(name, Scaled(Axis(0), 1), 3)).Hits;
        // l2: the vector the query is (0), then "other" (√2 away), then the one three times as long (2 away); dot: the longest first.
        var expected = distance == "l2" ? new[] { ("near", 0.0), ("other", -1.4142), ("long", -2.0) } : [("long", 3.0), ("near", 1.0), ("other", 0.0)];
        Assert.Equal(expected, hits.Select(h => (h.DocumentId, Math.Round(h.Score, 4))));
        // Fixed at creation, for own vectors only, and never with int8.
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsJsonAsync($"v1/collections/{name}", new { chunkMaxTokens = 128 })).StatusCode);
        Assert.Contains("own vectors", (await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "dist-model", distance }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
        Assert.Contains("int8", (await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "dist-int8", dimensions = 8, distance, quantization = "int8" }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
        Assert.Contains("\"l2\"", (await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "dist-bad", dimensions = 8, distance = "manhattan" }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_collections_language_finds_a_document_by_another_inflected_form_of_its_words()
    {
        // Each text in a collection of its language and in an English one: a query in another form finds it in the first only.
        (string Language, string Text, string Query)[] cases =
        [
            ("german", "Die Fußballspiele am Wochenende fielen aus.", "Fussballspiel"),
            ("french", "L'hôpital ferme ses portes le dimanche.", "hopitaux"),
            ("chinese", "我们在北京大学学习自然语言处理。", "自然语言"),
        ];
        foreach (var (language, text, query) in cases)
            foreach (var (name, lang) in new[] { ($"lang-{language}", language), ($"lang-{language}-en", "english") })
            {
                Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name, dimensions = 8, language = lang, fields = new { title = "text" } })).StatusCode);
                await Client.IngestManyAsync(name, [new DocumentInput("doc") { Tags = new() { ["title"] = text }, Chunks = [new ChunkInput(text) { Vector = Axis(0) }] }]);
                Assert.Equal("indexed", await Status(name, "doc"));
                var found = (await Client.SearchAsync(name, new SearchRequest(query) { Plan = "bm25" })).Hits.Select(h => h.DocumentId).ToArray();
                var inField = (await Client.SearchAsync(name, new SearchRequest(query) { Plan = "bm25", TextField = "title" })).Hits.Select(h => h.DocumentId).ToArray();
                Assert.True((lang == language ? ["doc"] : Array.Empty<string>()).SequenceEqual(found) && found.SequenceEqual(inField), $"{name}: '{query}' found [{string.Join(",", found)}], in the field [{string.Join(",", inField)}]");
            }
        Assert.Equal("german", (await Http.GetFromJsonAsync<JsonElement>("v1/collections/lang-german")).GetProperty("settings").GetProperty("language").GetString());
        // Kept by a PUT; unknown at creation is a 400 that lists the known ones.
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsJsonAsync("v1/collections/lang-german", new { chunkMaxTokens = 128 })).StatusCode);
        var unknown = await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "lang-x", language = "klingon" }), HttpStatusCode.BadRequest);
        Assert.Contains("use one of english, german, french", unknown.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_text_field_has_a_BM25_index_of_its_own_that_a_search_names_and_is_fixed_at_creation()
    {
        var fields = new Dictionary<string, string> { ["title"] = "text", ["kind"] = "string" };
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "texts", dimensions = 8, fields })).StatusCode);
        var longTitle = string.Join(' ', Enumerable.Repeat("tide pools and kelp forests", 20)); // past a string tag's 256 characters
        await Client.IngestManyAsync("texts",
        [
            new DocumentInput("a") { Tags = new() { ["title"] = "Apples", ["kind"] = "fruit" }, Chunks = [new ChunkInput("oranges in the text") { Vector = Axis(0) }] },
            new DocumentInput("b") { Tags = new() { ["title"] = "Oranges" }, Chunks = [new ChunkInput("apples in the text") { Vector = Axis(0) }] },
            new DocumentInput("c") { Tags = new() { ["title"] = longTitle }, Chunks = [new ChunkInput("seaweed") { Vector = Axis(1) }] },
        ]);
        Assert.Equal("indexed", await Status("texts", "c"));
        async Task<string[]> Bm25(string query, string? field) =>
            [.. (await Client.SearchAsync("texts", new SearchRequest(query) { Plan = "bm25", TextField = field })).Hits.Select(h => h.DocumentId)];
        Assert.Equal(["a"], await Bm25("apples", "title"));
        Assert.Equal(["b"], await Bm25("apples", null));
        Assert.Equal(["c"], await Bm25("kelp", "title"));
        // A PATCH of the field: its index follows, the chunk's text stays.
        await Client.UpdateTagsAsync("texts", "a", new Dictionary<string, object?> { ["title"] = "Pears" });
        await Client.WaitForIndexedAsync("texts", ["a"]);
        Assert.Empty(await Bm25("apples", "title"));
        Assert.Equal(["a"], await Bm25("pears", "title"));
        Assert.Equal(["a"], await Bm25("oranges", null));
        // A field that is not text is a 400 naming the ones that are; text fields are fixed at creation (409).
        var notText = await Problem(await Http.PostAsJsonAsync("v1/collections/texts/search", new { query = "fruit", textField = "kind" }), HttpStatusCode.BadRequest);
        Assert.Contains("declares title", notText.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Http.PutAsJsonAsync("v1/collections/texts", new { fields = new { kind = "string" } })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Http.PutAsJsonAsync("v1/collections/texts", new { fields = new { title = "text", kind = "text" } })).StatusCode);
    }

    [Fact]
    public async Task Graph_links_name_declared_string_fields_are_fixed_at_creation_and_a_filter_on_them_finds_their_documents()
    {
        var fields = new Dictionary<string, string> { ["dept"] = "string", ["team"] = "string[]", ["year"] = "integer" };
        var created = await Http.PostAsJsonAsync("v1/collections", new { name = "linked", dimensions = 8, fields, graphLinks = new[] { "dept" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("dept", (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("settings").GetProperty("graphLinks")[0].GetString());
        await Client.IngestManyAsync("linked", [.. Enumerable.Range(0, 12).Select(i =>
            new DocumentInput($"d{i}") { Tags = new() { ["dept"] = i % 3 == 0 ? "hr" : "eng" }, Chunks = [new ChunkInput($"text {i}") { Vector = Axis(i % 8) }] })]);
        Assert.Equal("indexed", await Status("linked", "d11"));
        var hr = (await Http.PostAsJsonAsync("v1/collections/linked/search", new { query = "text", topK = 20, plan = "bm25", filter = new { dept = "hr" } }));
        Assert.Equal(["d0", "d3", "d6", "d9"], (await hr.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("hits").EnumerateArray().Select(h => h.GetProperty("documentId").GetString()).Order().ToArray());
        // Asked to explain, a search says how each shard searched and how many chunks the filter kept there (4: compared
        // exactly), and is computed afresh though the same search was just answered.
        var ask = new SearchRequest(null) { Vector = Axis(0), TopK = 3, Filter = new Dictionary<string, string> { ["dept"] = "hr" } };
        Assert.Null((await Client.SearchAsync("linked", ask)).Explain);
        var explained = await Client.SearchAsync("linked", ask with { Explain = true });
        Assert.False(explained.Cached);
        Assert.Equal(4, explained.Explain!.Shards.Sum(s => s.Matching));
        Assert.All(explained.Explain.Shards, s => Assert.Equal(s.Matching > 0 ? "exact" : null, s.Dense)); // a shard keeping none measures nothing
        Assert.Contains("shards (exact", explained.Explain.Steps);
        // A field that is not a declared string or string[] is a 400 naming it; graphLinks are fixed at creation (409), and a
        // PUT that would retype a linked field is refused whole.
        foreach (var (links, says) in new[] { ("year", "graphLinks.year: only string and string[]"), ("owner", "graphLinks.owner: declare the field") })
        {
            var bad = await Problem(await Http.PostAsJsonAsync("v1/collections", new { name = "linked-bad", dimensions = 8, fields, graphLinks = new[] { links } }), HttpStatusCode.BadRequest);
            Assert.Contains(says, bad.GetProperty("detail").GetString());
        }
        Assert.Equal(HttpStatusCode.Conflict, (await Http.PutAsJsonAsync("v1/collections/linked", new { graphLinks = new[] { "dept", "team" } })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.PutAsJsonAsync("v1/collections/linked", new { fields = new { dept = "integer" } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsJsonAsync("v1/collections/linked", new { chunkMaxTokens = 128, graphLinks = new[] { "dept" } })).StatusCode);
        Assert.Equal("string", (await Http.GetFromJsonAsync<JsonElement>("v1/collections/linked")).GetProperty("settings").GetProperty("fields").GetProperty("dept").GetString());
    }

    [Fact]
    public async Task Chunks_without_a_vector_are_found_by_filters_and_BM25_and_a_collection_of_0_dimensions_holds_only_those()
    {
        // Beside vectors: a chunk without one is stored, read back without one, found by BM25 and filters, never by a vector.
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "mixed", dimensions = 8 })).StatusCode);
        await Client.IngestManyAsync("mixed",
        [
            new DocumentInput("with") { Chunks = [new ChunkInput("kelp forests") { Vector = Axis(0) }] },
            new DocumentInput("without") { Tags = new() { ["kind"] = "note" }, Chunks = [new ChunkInput("kelp and tide pools"), new ChunkInput("second, with a vector") { Vector = Axis(1) }] },
            new DocumentInput("tags-only") { Tags = new() { ["kind"] = "note" }, Chunks = [new ChunkInput("")] },
        ]);
        Assert.Equal("indexed", await Status("mixed", "tags-only"));
        // Two chunks take the document's grain, indexed after the answer: settled before it is searched for (on a busy
        // machine it was not yet, and the search found "with" alone).
        Assert.Equal("indexed", await Status("mixed", "without"));
        Assert.Equal(["with", "without"], (await Client.SearchAsync("mixed", new SearchRequest("kelp") { Plan = "bm25" })).Hits.Select(h => h.DocumentId).Order());
        Assert.Equal(["with", "without"], (await Search("mixed", Axis(0), 10)).Hits.Select(h => h.DocumentId).Order()); // "without" by its second chunk
        Assert.Equal([("without", 1)], (await Search("mixed", Axis(2), 10)).Hits.Where(h => h.DocumentId == "without").Select(h => (h.DocumentId, Ordinal(h.ChunkId))));
        Assert.Equal(["tags-only", "without"], (await Client.ListDocumentIdsAsync("mixed", null, 10, new Dictionary<string, string> { ["kind"] = "note" })).DocumentIds.Order());
        var read = (await Client.GetDocumentContentsAsync("mixed", ["without"], includeVectors: true))[0];
        Assert.Equal((null, true), (read.Chunks[0].Vector, read.Chunks[1].Vector is { Length: 8 }));

        // 0 dimensions: text alone; a vector, in a document or a search, is a 400 that says so.
        Assert.Equal(HttpStatusCode.Created, (await Http.PostAsJsonAsync("v1/collections", new { name = "texts-only", dimensions = 0 })).StatusCode);
        await Client.IngestManyAsync("texts-only", [new DocumentInput("a") { Chunks = [new ChunkInput("Grapes are healthy")] }]);
        Assert.Equal("indexed", await Status("texts-only", "a"));
        Assert.Equal(["a"], (await Client.SearchAsync("texts-only", new SearchRequest("grapes"))).Hits.Select(h => h.DocumentId));
        var withVector = await Http.PostAsJsonAsync("v1/collections/texts-only/documents", new { documents = new object[] { new { id = "b", chunks = new object[] { new { text = "x", vector = Axis(0) } } } } });
        Assert.Contains("holds no vectors", (await withVector.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("documents")[0].GetProperty("error").GetProperty("detail").GetString());
        Assert.Contains("holds no vectors", (await Problem(await Http.PostAsJsonAsync("v1/collections/texts-only/search", new { vector = new float[] { 1 } }), HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
    }

    private static int Ordinal(string chunkId) => int.Parse(chunkId[(chunkId.LastIndexOf('#') + 1)..]);

    [Fact]
    public async Task A_collection_with_its_own_vectors_takes_chunks_and_query_vectors_and_refuses_bad_ones_per_document()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.PostAsJsonAsync("v1/collections", new { name = "vec-1", dimensions = -1 })).StatusCode);
        var created = await Http.PostAsJsonAsync("v1/collections", new { name = "vec", dimensions = 8, shardCount = 2 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(8, (await Http.GetFromJsonAsync<JsonElement>("v1/collections/vec")).GetProperty("settings").GetProperty("dimensions").GetInt32());

        var nan = Axis(3);
        nan[5] = float.NaN;
        var batch = await Http.PostAsJsonAsync("v1/collections/vec/documents", new
        {
            documents = new object[]
            {
                new { id = "a", tags = new { kind = "axis" }, chunks = new object[] { new { text = "first axis", vector = Axis(0) }, new { text = "second axis", vector = Axis(1, 0.1f) } } },
                new { id = "b", chunks = new object[] { new { text = "third axis", vectorBase64 = Base64(Axis(2, 0.2f)) } } },
                new { id = "short", chunks = new object[] { new { text = "seven", vector = new float[7] { 1, 0, 0, 0, 0, 0, 0 } } } },
                new { id = "nan", chunks = new object[] { new { text = "ok", vector = Axis(4) }, new { text = "nan", vectorBase64 = Base64(nan) } } },
                new { id = "zero", chunks = new object[] { new { vector = new float[8] } } },
                new { id = "text", text = "plain text has no vector here" },
                new { id = "both", chunks = new object[] { new { vector = Axis(0), vectorBase64 = Base64(Axis(0)) } } },
            },
        });
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        var body = await batch.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((2, 5), (body.GetProperty("accepted").GetInt32(), body.GetProperty("rejected").GetInt32()));
        var details = body.GetProperty("documents").EnumerateArray().Skip(2).Select(d => d.GetProperty("error").GetProperty("detail").GetString()!).ToArray();
        Assert.Contains("chunk 0's vector has 7 dimensions; the collection takes 8", details[0]);
        Assert.Contains("chunk 1's vector holds NaN", details[1]);
        Assert.Contains("all zeros", details[2]);
        Assert.Contains("\"chunks\"", details[3]);
        Assert.Contains("one of them", details[4]);
        foreach (var id in new[] { "short", "nan", "zero", "text", "both" }) Assert.Equal("notFound", await Status("vec", id));
        Assert.Equal("indexed", await Status("vec", "a"));
        Assert.Equal("indexed", await Status("vec", "b"));
        Assert.Equal(2, (await Http.GetFromJsonAsync<JsonElement>("v1/collections/vec/documents/a")).GetProperty("chunkCount").GetInt32());

        // The nearest chunk by cosine, whatever the query vector's length; text joins through BM25 when given.
        var search = await (await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(1).Select(x => x * 5).ToArray(), topK = 2 }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("vector", search.GetProperty("plan").GetString());
        Assert.Equal("a#1", search.GetProperty("hits")[0].GetProperty("chunkId").GetString());
        Assert.Equal("second axis", search.GetProperty("hits")[0].GetProperty("text").GetString());
        var byBase64 = await (await Http.PostAsJsonAsync("v1/collections/vec/search", new { vectorBase64 = Base64(Axis(2)), topK = 1, filter = new { } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("b#0", byBase64.GetProperty("hits")[0].GetProperty("chunkId").GetString());
        var hybrid = await (await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(0), query = "third", topK = 3 }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("hybrid", hybrid.GetProperty("candidatePlans").EnumerateArray().Select(p => p.GetString()));
        var filtered = await (await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(2), topK = 3, filter = new { kind = "axis" } }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Assert.All(filtered.GetProperty("hits").EnumerateArray(), h => Assert.Equal("a", h.GetProperty("documentId").GetString()));
        // ef, the HNSW search breadth: a wider search answers the same here, and out of range is a 400.
        var wide = await (await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(1), topK = 1, ef = 500 })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("a#1", wide.GetProperty("hits")[0].GetProperty("chunkId").GetString());
        foreach (var ef in new[] { 0, 4097 })
            Assert.Contains("ef", (await Problem(await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(1), ef }), HttpStatusCode.BadRequest)).GetProperty("title").GetString());

        var wrong = await Problem(await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = new float[] { 1, 2, 3 } }), HttpStatusCode.BadRequest);
        Assert.Contains("3 dimensions", wrong.GetProperty("detail").GetString());
        await Problem(await Http.PostAsJsonAsync("v1/collections/vec/search", new { vectorBase64 = "not base64!" }), HttpStatusCode.BadRequest);
        await Problem(await Http.PostAsJsonAsync("v1/collections/vec/search", new { vector = Axis(0), plan = "bm25" }), HttpStatusCode.BadRequest);
        using var form = new MultipartFormDataContent { { new ByteArrayContent("hello"u8.ToArray()), "file", "hello.txt" } };
        await Problem(await Http.PostAsync("v1/collections/vec/documents", form), HttpStatusCode.BadRequest);
        // The dimension is fixed: a settings change keeps it.
        var put = await Http.PutAsJsonAsync("v1/collections/vec", new { chunkMaxTokens = 128 });
        Assert.Equal(8, (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("settings").GetProperty("dimensions").GetInt32());

        // A collection with the cluster's model takes neither.
        await api.CreateCollection("model");
        var single = await Problem(await Http.PostAsJsonAsync("v1/collections/model/documents", new { id = "v", chunks = new object[] { new { vector = Axis(0) } } }), HttpStatusCode.BadRequest);
        Assert.Equal("Vectors not accepted", single.GetProperty("title").GetString());
        await Problem(await Http.PostAsJsonAsync("v1/collections/model/search", new { vector = Axis(0) }), HttpStatusCode.BadRequest);
        Assert.Equal("notFound", await Status("model", "v"));
    }

    /// <summary>A .npy file as numpy writes it (format 1.0): magic, header dict padded to 64 bytes, rows of float32.</summary>
    private static byte[] Npy(float[][] rows)
    {
        var dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Length}, {rows[0].Length}), }}";
        var header = dict.PadRight(64 - 10 - 1) + "\n";
        using var ms = new MemoryStream();
        ms.Write([0x93, .. "NUMPY"u8, 1, 0]);
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(System.Text.Encoding.Latin1.GetBytes(header));
        foreach (var row in rows) foreach (var x in row) ms.Write(BitConverter.GetBytes(x));
        return ms.ToArray();
    }

    [Fact]
    public async Task The_cli_loads_npy_and_jsonl_vectors_through_the_api_and_reports_bad_records_alone()
    {
        var dir = Directory.CreateTempSubdirectory("rc-vec-cli").FullName;
        (int Exit, string Out, string Err) Cli(params string[] args) => CliProcess.Run(dir,
            new Dictionary<string, string> { ["RAGCLUSTER_URL"] = Http.BaseAddress!.ToString(), ["RAGCLUSTER_API_KEY"] = api.AdminKey }, args);
        File.WriteAllBytes(Path.Combine(dir, "rows.npy"), Npy([.. Enumerable.Range(0, 8).Select(i => Axis(i, 0.3f))]));
        File.WriteAllLines(Path.Combine(dir, "more.jsonl"),
        [
            JsonSerializer.Serialize(new { id = "named", text = "a named one", vector = Axis(5, 0.5f), tags = new { src = "jsonl" } }),
            JsonSerializer.Serialize(new { chunks = new[] { new { text = "two", vectorBase64 = Base64(Axis(6)) }, new { text = "chunks", vectorBase64 = Base64(Axis(7)) } } }),
            JsonSerializer.Serialize(new { id = "short", vector = new float[] { 1, 2 } }),
            "{ not json",
        ]);

        // A new collection takes the files' dimension.
        var run = Cli("ingest", "rows.npy", "more.jsonl", "-c", "loaded");
        Assert.Equal(1, run.Exit);
        Assert.Contains("created collection 'loaded'", run.Out);
        Assert.Contains("10 of 12 indexed into 'loaded'", run.Out);
        Assert.Contains("more.jsonl:3: chunk 0's vector has 2 dimensions; the collection takes 8", run.Err);
        Assert.Contains("more.jsonl:4: not a vector record", run.Err);
        var info = await Client.GetCollectionAsync("loaded");
        Assert.Equal((8, 10), (info.Settings.Dimensions, info.DocumentCount));
        Assert.Equal(2, (await Client.GetDocumentAsync("loaded", "more-2")).ChunkCount);

        Assert.Equal("rows-3", (await Search("loaded", Axis(3, 0.3f), 1)).Hits[0].DocumentId);
        Assert.Equal(["named"], (await Search("loaded", Axis(0), 5, new() { ["src"] = "jsonl" })).Hits.Select(h => h.DocumentId));

        // Text files cannot go into it, and vectors cannot go into a collection with the model.
        File.WriteAllText(Path.Combine(dir, "note.txt"), "plain text");
        var text = Cli("ingest", "note.txt", "-c", "loaded");
        Assert.Equal(1, text.Exit);
        Assert.Contains("Vectors required", text.Err);
        await api.CreateCollection("withmodel");
        var refused = Cli("ingest", "rows.npy", "-c", "withmodel");
        Assert.Equal(1, refused.Exit);
        Assert.Contains("embeds text with the cluster's model", refused.Err);
        Assert.DoesNotContain("   at ", refused.Err); // one line, no stack trace
    }

    [Fact]
    public async Task Put_shardCount_on_a_collection_with_documents_answers_202_and_reshards_online()
    {
        await Client.CreateCollectionAsync(new("grow") { Dimensions = 8, ShardCount = 2 });
        var documents = Enumerable.Range(0, 40).Select(d => new DocumentInput($"g{d}") { Chunks = [new($"doc {d}") { Vector = Axis(d % 8, d / 8 * 0.1f) }] }).ToList();
        Assert.Equal(40, (await Client.IngestBatchAsync("grow", documents)).Accepted);
        Assert.All((await Client.SettledAsync("grow", documents.Select(d => d.Id))).Values, s => Assert.Equal("indexed", s.Status));

        // Answered 202 with the reshard under way (the settings stay as they are until it switches).
        var put = await Client.ConfigureCollectionAsync("grow", new() { ShardCount = 6 });
        Assert.Equal((2, 6), (put.Settings.ShardCount, put.Resharding!.ShardCount));
        CollectionReply info = null!;
        await Poll.UntilAsync(async () => (info = await Client.GetCollectionAsync("grow")).Resharding is null, 60);
        Assert.Equal(6, info.Settings.ShardCount);
        var shards = await Client.GetShardStatsAsync("grow");
        Assert.Equal(6, shards.Length);
        Assert.Equal(40, shards.Sum(s => s.Vectors));
        Assert.Equal("g21", (await Search("grow", Axis(5, 0.2f), 1)).Hits[0].DocumentId);
        // Unchanged count: a plain 200.
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsJsonAsync("v1/collections/grow", new { shardCount = 6 })).StatusCode);
    }

    [Fact]
    public async Task An_int8_collection_quantizes_its_shards_answers_with_exact_scores_and_keeps_int8_through_a_backup()
    {
        var bad = await Http.PostAsJsonAsync("v1/collections", new { name = "q4", dimensions = 8, quantization = "int4" });
        Assert.Contains("quantization must be", (await Problem(bad, HttpStatusCode.BadRequest)).GetProperty("detail").GetString());
        await Client.CreateCollectionAsync(new("q8") { Dimensions = 8, ShardCount = 2, Quantization = "int8" });
        var documents = Enumerable.Range(0, 24).Select(d => new DocumentInput($"q{d}") { Chunks = [new($"doc {d}") { Vector = Axis(d % 8, d / 8 * 0.15f) }] }).ToList();
        Assert.Equal(24, (await Client.IngestBatchAsync("q8", documents)).Accepted);
        Assert.All((await Client.SettledAsync("q8", documents.Select(d => d.Id))).Values, s => Assert.Equal("indexed", s.Status));
        Assert.All(await Client.GetShardStatsAsync("q8"), s => Assert.Equal("int8", s.Quantization));

        // The score is the exact cosine of the full-precision vectors (rescored), not the int8 estimate.
        var hit = (await Search("q8", Axis(3, 0.15f), 1, plan: "vector")).Hits[0];
        Assert.Equal("q11", hit.DocumentId);
        Assert.Equal(1.0, hit.Score, 4);

        using var archive = new MemoryStream();
        await Client.BackupAsync("q8", archive);
        archive.Position = 0;
        await Client.RestoreAsync("q8copy", archive);
        Assert.Equal("int8", (await Client.GetCollectionAsync("q8copy")).Settings.Quantization);
        Assert.All(await Client.GetShardStatsAsync("q8copy"), s => Assert.Equal("int8", s.Quantization));
    }
}
