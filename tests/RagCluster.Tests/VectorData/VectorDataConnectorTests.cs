using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using RagCluster.Client;
using RagCluster.VectorData;
using RagCluster.Tests.Infrastructure;

namespace RagCluster.Tests.Rag;

/// <summary>
/// RagCluster as a Microsoft.Extensions.VectorData store: the abstraction's operations as an application uses them,
/// against the HTTP API on a two-silo in-process TestCluster.
/// </summary>
public sealed class VectorDataConnectorTests(TestClusterApi api) : IClassFixture<TestClusterApi>
{
    public sealed class Note
    {
        [VectorStoreKey] public string Id { get; set; } = "";
        [VectorStoreData(IsFullTextIndexed = true)] public string Text { get; set; } = "";
        [VectorStoreData(IsIndexed = true)] public string Lang { get; set; } = "";
        [VectorStoreData] public int Year { get; set; }
        [VectorStoreData] public bool Draft { get; set; }
        [VectorStoreData] public DateTimeOffset? Reviewed { get; set; }
        [VectorStoreVector(4)] public ReadOnlyMemory<float> Embedding { get; set; }
    }

    /// <summary>A record whose vector is made from its text by the application's IEmbeddingGenerator.</summary>
    public sealed class Snippet
    {
        [VectorStoreKey] public string Id { get; set; } = "";
        [VectorStoreData(IsFullTextIndexed = true)] public string Text { get; set; } = "";
        [VectorStoreVector(4)] public string Embedding => Text;
    }

    private RagClusterVectorStore Store(RagClusterVectorStoreOptions? options = null) => new(api.NewClient(), options);

    private static Note Make(string id, string text, string lang, int year, float[] vector, bool draft = false) =>
        new() { Id = id, Text = text, Lang = lang, Year = year, Draft = draft, Embedding = vector, Reviewed = year > 2020 ? new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.FromHours(2)) : null };

    [Fact]
    public async Task Create_upsert_get_search_filter_hybrid_and_delete_through_the_abstraction()
    {
        using var store = Store();
        var notes = store.GetCollection<string, Note>("notes");
        Assert.False(await notes.CollectionExistsAsync());
        await notes.EnsureCollectionExistsAsync();
        await notes.EnsureCollectionExistsAsync(); // again: fine
        Assert.True(await store.CollectionExistsAsync("notes"));
        Assert.Contains("notes", await store.ListCollectionNamesAsync().ToListAsync());

        await notes.UpsertAsync([
            Make("n1", "Green tea is brewed at 80 degrees.", "en", 2024, [1, 0, 0, 0]),
            Make("n2", "Black tea takes boiling water.", "en", 2019, [0.9f, 0.1f, 0, 0], draft: true),
            Make("n3", "Grüner Tee zieht zwei Minuten.", "de", 2023, [0, 1, 0, 0]),
            Make("n4", "Coffee wants nine bars.", "en", 2022, [0, 0, 1, 0]),
        ]);

        // Read back by key: every field as written (the vector scaled to length 1, as cosine search keeps it).
        var n1 = await notes.GetAsync("n1", new RecordRetrievalOptions { IncludeVectors = true });
        Assert.NotNull(n1);
        Assert.Equal(("Green tea is brewed at 80 degrees.", "en", 2024, false), (n1.Text, n1.Lang, n1.Year, n1.Draft));
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 12, 0, 0, TimeSpan.FromHours(2)), n1.Reviewed);
        Assert.Equal([1f, 0, 0, 0], n1.Embedding.ToArray());
        Assert.Null((await notes.GetAsync("n2"))!.Reviewed);
        Assert.True((await notes.GetAsync("n2"))!.Embedding.IsEmpty); // vectors only when asked for
        Assert.Null(await notes.GetAsync("missing"));
        Assert.Equal(["n3", "n1"], await notes.GetAsync(["n3", "missing", "n1"]).Select(n => n.Id).ToListAsync());

        // Vector search, nearest first, with cosine similarity as the score.
        var near = await notes.SearchAsync(new ReadOnlyMemory<float>([1, 0, 0, 0]), 2).ToListAsync();
        Assert.Equal(["n1", "n2"], near.Select(r => r.Record.Id));
        Assert.Equal(1.0, near[0].Score!.Value, 3);
        Assert.True(near[0].Score > near[1].Score);
        Assert.Equal(["n2"], await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 1, new VectorSearchOptions<Note> { Skip = 1 }).Select(r => r.Record.Id).ToListAsync());

        // Filters: equalities joined with &&, captured values and bool properties included.
        var lang = "en";
        Assert.Equal(["n3"], await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 3, new VectorSearchOptions<Note> { Filter = n => n.Lang == "de" }).Select(r => r.Record.Id).ToListAsync());
        Assert.Equal(["n1", "n4"], await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 3, new VectorSearchOptions<Note> { Filter = n => n.Lang == lang && !n.Draft })
            .Select(r => r.Record.Id).ToListAsync());
        Assert.Equal(["n2"], await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 3, new VectorSearchOptions<Note> { Filter = n => n.Draft && n.Year == 2019 })
            .Select(r => r.Record.Id).ToListAsync());
        Assert.Equal(["n1", "n2", "n4"], await notes.GetAsync(n => n.Lang == "en", 10).Select(n => n.Id).ToListAsync());

        // The rest of the language: ranges, !=, ||, !, Contains on a list of values, null (a missing tag), datetimes.
        async Task<string[]> Ids(System.Linq.Expressions.Expression<Func<Note, bool>> filter) =>
            (await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 4, new VectorSearchOptions<Note> { Filter = filter }).Select(r => r.Record.Id).ToListAsync()).Order().ToArray();
        Assert.Equal(["n1", "n3", "n4"], await Ids(n => n.Year > 2020));
        Assert.Equal(["n2", "n4"], await Ids(n => n.Year >= 2019 && 2022 >= n.Year));
        Assert.Equal(["n3"], await Ids(n => n.Lang != "en"));
        Assert.Equal(["n2", "n3"], await Ids(n => n.Lang == "de" || n.Draft));
        Assert.Equal(["n1", "n3", "n4"], await Ids(n => !(n.Draft || n.Year < 2000)));
        var years = new List<int> { 2019, 2023 };
        Assert.Equal(["n2", "n3"], await Ids(n => years.Contains(n.Year)));
        string[] german = ["de"];
        Assert.Equal(["n3"], await Ids(n => german.Contains(n.Lang)));
        Assert.Equal(["n2"], await Ids(n => n.Reviewed == null));
        var since = new DateTimeOffset(2024, 5, 1, 9, 59, 0, TimeSpan.Zero); // the reviews were at 10:00 UTC
        Assert.Equal(["n1", "n3", "n4"], await Ids(n => n.Reviewed > since));
        Assert.Empty(await Ids(n => n.Reviewed < since));
        Assert.Equal(["n1", "n4"], await notes.GetAsync(n => n.Year > 2021 && n.Lang == "en", 10).Select(n => n.Id).ToListAsync());
        await Assert.ThrowsAsync<NotSupportedException>(() => Ids(n => n.Text == "x")); // the full-text property is not a tag
        await Assert.ThrowsAsync<NotSupportedException>(() => Ids(n => n.Year > n.Year - 1)); // two sides over the record

        // Hybrid: the vector points at coffee, the keyword at tea; fusion ranks both kinds.
        var hybrid = (IKeywordHybridSearchable<Note>)notes;
        var fused = await hybrid.HybridSearchAsync(new float[] { 0, 0, 1, 0 }, ["boiling"], 2).Select(r => r.Record.Id).ToListAsync();
        Assert.Equal(["n2", "n4"], fused.Order());

        // Upsert replaces; delete removes from reads and searches.
        await notes.UpsertAsync(Make("n1", "Green tea, 75 degrees.", "en", 2025, [1, 0, 0, 0]));
        Assert.Equal((2025, "Green tea, 75 degrees."), (await notes.GetAsync("n1")) is { } again ? (again.Year, again.Text) : default);
        await notes.DeleteAsync("n2");
        await notes.DeleteAsync("n2"); // again: fine
        Assert.Null(await notes.GetAsync("n2"));
        Assert.DoesNotContain("n2", await notes.SearchAsync(new float[] { 1, 0, 0, 0 }, 4).Select(r => r.Record.Id).ToListAsync());

        // A record RagCluster cannot hold is refused with a reason, and a store error names the store.
        var tooLong = Make("n5", "x", new string('a', 300), 2020, [1, 1, 0, 0]);
        Assert.Contains("over 256 characters", (await Assert.ThrowsAsync<ArgumentException>(() => notes.UpsertAsync(tooLong))).Message);
        var elsewhere = store.GetCollection<string, Note>("never-made");
        var error = await Assert.ThrowsAsync<VectorStoreException>(() => elsewhere.SearchAsync(new float[] { 1, 0, 0, 0 }, 1).ToListAsync().AsTask());
        Assert.Equal(("ragcluster", "never-made", "Search"), (error.VectorStoreSystemName, error.CollectionName, error.OperationName));
        Assert.Equal("ragcluster", notes.GetService(typeof(VectorStoreCollectionMetadata)) is VectorStoreCollectionMetadata m ? m.VectorStoreSystemName : null);

        await notes.EnsureCollectionDeletedAsync();
        Assert.False(await notes.CollectionExistsAsync());
    }

    [Fact]
    public async Task Dynamic_records_and_an_applications_embedding_generator()
    {
        using var store = Store(new RagClusterVectorStoreOptions { EmbeddingGenerator = new LetterEmbeddings() });
        var definition = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreKeyProperty("Key", typeof(string)), new VectorStoreDataProperty("Title", typeof(string)) { IsFullTextIndexed = true },
                new VectorStoreDataProperty("Shelf", typeof(int)), new VectorStoreVectorProperty("Vector", typeof(float[]), 4)],
        };
        var books = store.GetDynamicCollection("books", definition);
        await books.EnsureCollectionExistsAsync();
        await books.UpsertAsync(new Dictionary<string, object?> { ["Key"] = "b1", ["Title"] = "Tea", ["Shelf"] = 3, ["Vector"] = new float[] { 0, 0, 1, 0 } });
        var b1 = await books.GetAsync("b1");
        Assert.Equal(("Tea", 3), ((string)b1!["Title"]!, (int)b1["Shelf"]!));
        Assert.Equal("b1", (string)(await books.SearchAsync(new float[] { 0, 0, 1, 0 }, 1, new VectorSearchOptions<Dictionary<string, object?>> { Filter = r => (int)r["Shelf"]! == 3 }).FirstAsync()).Record["Key"]!);

        // The vector is made from the text by the application's generator, on upsert and on search.
        var snippets = store.GetCollection<string, Snippet>("snippets");
        await snippets.EnsureCollectionExistsAsync();
        await snippets.UpsertAsync([new Snippet { Id = "a", Text = "aaaa" }, new Snippet { Id = "c", Text = "cccc" }]);
        Assert.Equal("c", (await snippets.SearchAsync("ccc", 1).FirstAsync()).Record.Id);
        Assert.Equal("a", (await snippets.SearchAsync("aab", 1).FirstAsync()).Record.Id);
        await books.EnsureCollectionDeletedAsync();
        await snippets.EnsureCollectionDeletedAsync();
    }

    [Fact]
    public async Task Null_properties_stay_present_and_Any_over_a_list_filters_a_string_array()
    {
        using var store = Store();
        var definition = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreKeyProperty("Key", typeof(string)), new VectorStoreDataProperty("Label", typeof(string)),
                new VectorStoreDataProperty("Count", typeof(int?)), new VectorStoreDataProperty("Tags", typeof(string[])),
                new VectorStoreDataProperty("Names", typeof(List<string>)), new VectorStoreVectorProperty("Vector", typeof(float[]), 4)],
        };
        var items = store.GetDynamicCollection("vd-any", definition);
        await items.EnsureCollectionExistsAsync();
        await items.UpsertAsync([
            new Dictionary<string, object?> { ["Key"] = "x", ["Label"] = null, ["Count"] = null, ["Tags"] = new[] { "x", "y" }, ["Names"] = new List<string> { "ann" }, ["Vector"] = new float[] { 1, 0, 0, 0 } },
            new Dictionary<string, object?> { ["Key"] = "z", ["Label"] = "zed", ["Count"] = 2, ["Tags"] = new[] { "z" }, ["Names"] = new List<string> { "bob" }, ["Vector"] = new float[] { 0, 1, 0, 0 } },
            new Dictionary<string, object?> { ["Key"] = "w", ["Label"] = "w", ["Count"] = 3, ["Tags"] = new[] { "w" }, ["Names"] = new List<string> { "cy" }, ["Vector"] = new float[] { 0, 0, 1, 0 } }]);

        // A null written reads back as a null that is there, not as a missing property.
        var x = (await items.GetAsync("x"))!;
        Assert.True(x.ContainsKey("Label") && x.ContainsKey("Count"));
        Assert.Equal((null, null), (x["Label"], x["Count"]));

        // Any(s => list.Contains(s)) over an array or a list property: the records holding one of the list's values.
        string[] wanted = ["x", "z", "nonexistent"];
        async Task<string[]> Keys(System.Linq.Expressions.Expression<Func<Dictionary<string, object?>, bool>> filter) =>
            [.. (await items.SearchAsync(new float[] { 1, 1, 1, 0 }, 10, new VectorSearchOptions<Dictionary<string, object?>> { Filter = filter }).ToListAsync())
                .Select(r => (string)r.Record["Key"]!).Order()];
        Assert.Equal(["x", "z"], await Keys(r => ((string[])r["Tags"]!).Any(s => wanted.Contains(s))));
        Assert.Equal(["x", "z"], await Keys(r => ((string[])r["Tags"]!).Any(s => new[] { "x", "z" }.Contains(s))));
        List<string> names = ["bob", "cy"];
        Assert.Equal(["w", "z"], await Keys(r => ((List<string>)r["Names"]!).Any(s => names.Contains(s))));
        // Equality with a whole array: the same items in the same order, not a subset nor another order.
        string[] xy = ["x", "y"], yx = ["y", "x"], justX = ["x"];
        Assert.Equal(["x"], await Keys(r => (string[])r["Tags"]! == xy));
        Assert.Empty(await Keys(r => (string[])r["Tags"]! == yx));
        Assert.Empty(await Keys(r => (string[])r["Tags"]! == justX));

        // A property the definition lacks, or a null int?'s Value: the caller's mistake, InvalidOperationException.
        await Assert.ThrowsAsync<InvalidOperationException>(() => Keys(r => (string)r["Label = \"not\"; DROP TABLE items;"]! == ""));
        int? none = null;
        await Assert.ThrowsAsync<InvalidOperationException>(() => Keys(r => (int)r["Count"]! == none!.Value));
        await items.EnsureCollectionDeletedAsync();
    }

    /// <summary>Two full-text properties: the collection's text fields, each with a BM25 index of its own.</summary>
    public sealed class Titled
    {
        [VectorStoreKey] public string Id { get; set; } = "";
        [VectorStoreData(IsFullTextIndexed = true)] public string Title { get; set; } = "";
        [VectorStoreData(IsFullTextIndexed = true)] public string Body { get; set; } = "";
        [VectorStoreVector(4)] public ReadOnlyMemory<float> Embedding { get; set; }
    }

    [Fact]
    public async Task Several_full_text_properties_are_text_fields_and_hybrid_search_matches_the_one_it_names()
    {
        var titled = (RagClusterCollection<string, Titled>)Store().GetCollection<string, Titled>("titled");
        await titled.EnsureCollectionExistsAsync();
        var longBody = string.Join(' ', Enumerable.Repeat("a long body about steeping leaves", 12)); // past a tag's 256 characters
        await titled.UpsertAsync([
            new Titled { Id = "t1", Title = "Apples", Body = "Oranges " + longBody, Embedding = new float[] { 1, 0, 0, 0 } },
            new Titled { Id = "t2", Title = "Oranges", Body = "Apples", Embedding = new float[] { 1, 0, 0, 0 } }]);
        Assert.Equal(longBody, (await titled.GetAsync("t1"))!.Body[8..]);
        async Task<string[]> Hybrid(string word, System.Linq.Expressions.Expression<Func<Titled, object?>> property) =>
            [.. await titled.HybridSearchAsync(new float[] { 1, 0, 0, 0 }, [word], 1, new() { AdditionalProperty = property }).Select(r => r.Record.Id).ToListAsync()];
        Assert.Equal(["t1"], await Hybrid("apples", t => t.Title));
        Assert.Equal(["t2"], await Hybrid("apples", t => t.Body));
        Assert.Equal(["t2"], await Hybrid("oranges", t => t.Title));
        // None named among several: the abstraction's InvalidOperationException, before any request.
        Assert.Throws<InvalidOperationException>(() => titled.HybridSearchAsync(new float[] { 1, 0, 0, 0 }, ["apples"], 1));
    }

    [Fact]
    public async Task A_record_without_a_vector_is_kept_in_a_collection_of_0_dimensions_and_found_by_key_and_filter()
    {
        using var store = Store();
        var definition = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreKeyProperty("Key", typeof(string)), new VectorStoreDataProperty("Label", typeof(string)) { IsIndexed = true }],
        };
        var plain = store.GetDynamicCollection("vd-novector", definition);
        await plain.EnsureCollectionExistsAsync();
        Assert.Equal(0, (await api.NewClient().GetCollectionAsync("vd-novector")).Settings.Dimensions);
        await plain.UpsertAsync([new Dictionary<string, object?> { ["Key"] = "p1", ["Label"] = "foo" }, new Dictionary<string, object?> { ["Key"] = "p2", ["Label"] = "bar" }]);
        Assert.Equal("foo", (await plain.GetAsync("p1", new() { IncludeVectors = true }))!["Label"]);
        Assert.Equal(["p2"], await plain.GetAsync(r => (string)r["Label"]! == "bar", 10).Select(r => (string)r["Key"]!).ToArrayAsync());
        Assert.Throws<InvalidOperationException>(() => plain.SearchAsync(new float[] { 1 }, 1));
        await plain.DeleteAsync("p1");
        Assert.Null(await plain.GetAsync("p1"));
        await plain.EnsureCollectionDeletedAsync();
    }

    public sealed class Moment
    {
        [VectorStoreKey] public string Id { get; set; } = "";
        [VectorStoreData] public byte Level { get; set; }
        [VectorStoreData] public short Floor { get; set; }
        [VectorStoreData] public DateOnly Day { get; set; }
        [VectorStoreData] public TimeOnly At { get; set; }
        [VectorStoreVector(4)] public ReadOnlyMemory<float> Vector { get; set; }
    }

    [Fact]
    public async Task Small_integers_dates_and_times_round_trip_filter_and_order()
    {
        using var store = Store();
        var moments = store.GetCollection<string, Moment>("vd-moments");
        await moments.EnsureCollectionExistsAsync();
        await moments.UpsertAsync([
            new Moment { Id = "m1", Level = 200, Floor = -3, Day = new DateOnly(2024, 2, 29), At = new TimeOnly(12, 30, 45), Vector = new float[] { 1, 0, 0, 0 } },
            new Moment { Id = "m2", Level = 7, Floor = 12, Day = new DateOnly(2023, 12, 31), At = new TimeOnly(8, 0), Vector = new float[] { 0, 1, 0, 0 } },
            new Moment { Id = "m3", Level = 9, Floor = 1, Day = new DateOnly(2025, 1, 1), At = new TimeOnly(23, 59, 59), Vector = new float[] { 0, 0, 1, 0 } }]);
        var m1 = (await moments.GetAsync("m1"))!;
        Assert.Equal(((byte)200, (short)-3, new DateOnly(2024, 2, 29), new TimeOnly(12, 30, 45)), (m1.Level, m1.Floor, m1.Day, m1.At));

        // Dates and times compare as the values do (a date is its midnight in UTC, a time its ticks).
        var cut = new DateOnly(2024, 1, 1);
        Assert.Equal(["m1", "m3"], await moments.GetAsync(r => r.Day > cut, 10).Select(r => r.Id).ToArrayAsync());
        var noon = new TimeOnly(12, 0);
        Assert.Equal(["m2"], await moments.GetAsync(r => r.At < noon, 10).Select(r => r.Id).ToArrayAsync());

        // Ordered by properties (the connector sorts the matches), then skipped and taken.
        Assert.Equal(["m2", "m3", "m1"], await moments.GetAsync(r => r.Level > 0, 10, new() { OrderBy = o => o.Ascending(r => r.Level) }).Select(r => r.Id).ToArrayAsync());
        Assert.Equal(["m3", "m1"], await moments.GetAsync(r => r.Level > 0, 2, new() { OrderBy = o => o.Descending(r => r.Floor), Skip = 1 }).Select(r => r.Id).ToArrayAsync());

        // Text where the collection takes vectors and no generator is configured: said in the abstraction's words.
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => moments.SearchAsync("noon", 1).ToListAsync().AsTask());
        Assert.StartsWith("A value of type 'string' was passed to 'SearchAsync', but that isn't a supported vector type by your provider and no embedding generator was configured.", error.Message);
        await moments.EnsureCollectionDeletedAsync();
    }

    [Theory]
    [InlineData(DistanceFunction.CosineDistance, 0.0, 1.0, 2.0)]
    [InlineData(DistanceFunction.DotProductSimilarity, 1.0, 0.0, -1.0)]
    [InlineData(DistanceFunction.NegativeDotProductSimilarity, -1.0, 0.0, 1.0)]
    [InlineData(DistanceFunction.EuclideanDistance, 0.0, 1.732, 2.0)]
    [InlineData(DistanceFunction.EuclideanSquaredDistance, 0.0, 3.0, 4.0)]
    public async Task Each_distance_function_scores_as_the_abstraction_says_and_a_distance_takes_its_threshold_as_a_ceiling(string function, double same, double orthogonal, double opposite)
    {
        using var store = Store();
        var definition = KeyedDefinition<string>();
        ((VectorStoreVectorProperty)definition.Properties[2]).DistanceFunction = function;
        var near = store.GetCollection<string, Keyed<string>>("vd-" + function.ToLowerInvariant(), definition);
        await near.EnsureCollectionExistsAsync();
        await near.UpsertAsync([new Keyed<string> { Key = "same", Vector = new float[] { 1, 0, 0, 0 } }, new Keyed<string> { Key = "opposite", Vector = new float[] { -1, 0, 0, 0 } },
            new Keyed<string> { Key = "orthogonal", Vector = new float[] { 0, -1, -1, 0 } }]);
        var hits = await near.SearchAsync(new float[] { 1, 0, 0, 0 }, 3).Select(r => (r.Record.Key, Math.Round(r.Score ?? -9, 3))).ToArrayAsync();
        Assert.Equal([("same", same), ("orthogonal", orthogonal), ("opposite", opposite)], hits);
        // A threshold between the second and third: a ceiling for a distance, a floor for a similarity; either way the first two.
        Assert.Equal(["same", "orthogonal"], await near.SearchAsync(new float[] { 1, 0, 0, 0 }, 3, new() { ScoreThreshold = (orthogonal + opposite) / 2 }).Select(r => r.Record.Key).ToArrayAsync());
        await near.EnsureCollectionDeletedAsync();
        var manhattan = KeyedDefinition<string>();
        ((VectorStoreVectorProperty)manhattan.Properties[2]).DistanceFunction = DistanceFunction.ManhattanDistance;
        Assert.Throws<NotSupportedException>(() => store.GetCollection<string, Keyed<string>>("vd-manhattan", manhattan));
    }

    [Fact]
    public async Task A_collection_with_an_access_field_answers_each_key_with_its_groups_records_and_an_alias_stands_for_it()
    {
        using var store = Store(new RagClusterVectorStoreOptions { AccessField = "Groups" });
        var definition = new VectorStoreCollectionDefinition
        {
            Properties = [new VectorStoreKeyProperty("Key", typeof(string)), new VectorStoreDataProperty("Groups", typeof(string[])),
                new VectorStoreVectorProperty("Vector", typeof(float[]), 4)],
        };
        var owner = store.GetDynamicCollection("vd-acl", definition);
        await owner.EnsureCollectionExistsAsync();
        await owner.UpsertAsync([
            new Dictionary<string, object?> { ["Key"] = "hr", ["Groups"] = new[] { "hr" }, ["Vector"] = new float[] { 1, 0, 0, 0 } },
            new Dictionary<string, object?> { ["Key"] = "eng", ["Groups"] = new[] { "eng" }, ["Vector"] = new float[] { 0.9f, 0.1f, 0, 0 } }]);
        using var admin = api.NewClient();
        var reader = await admin.CreateKeyAsync(new CreateKeyRequest("reader") { Groups = ["eng"] });
        await admin.SetAliasAsync("vd-alias", "vd-acl");
        // The reader's store, through the alias: the HR record is neither found nor read.
        using var readerStore = new RagClusterVectorStore(new RagClusterClient(api.Url, reader.Key!));
        var asReader = readerStore.GetDynamicCollection("vd-alias", definition);
        Assert.Equal(["eng"], await asReader.SearchAsync(new float[] { 1, 0, 0, 0 }, 5).Select(r => (string)r.Record["Key"]!).ToArrayAsync());
        Assert.Null(await asReader.GetAsync("hr"));
        Assert.NotNull(await asReader.GetAsync("eng"));
        Assert.Equal(2, await owner.SearchAsync(new float[] { 1, 0, 0, 0 }, 5).CountAsync());
        await admin.DeleteAliasAsync("vd-alias");
        await owner.EnsureCollectionDeletedAsync();
    }

    public sealed class Keyed<TKey>
    {
        public TKey Key { get; set; } = default!;
        public int Int { get; set; }
        public ReadOnlyMemory<float> Vector { get; set; }
    }

    private static VectorStoreCollectionDefinition KeyedDefinition<TKey>(bool? generated = false) => new()
    {
        Properties = [new VectorStoreKeyProperty("Key", typeof(TKey)) { IsAutoGenerated = generated }, new VectorStoreDataProperty("Int", typeof(int)),
                      new VectorStoreVectorProperty("Vector", typeof(ReadOnlyMemory<float>), 4)],
    };

    [Fact]
    public async Task Guid_and_integer_keys_are_document_ids_and_a_default_Guid_gets_a_new_one_where_keys_are_generated()
    {
        using var store = Store();
        // Keys as written, the default value among them (0, Guid.Empty), where none are generated: by type, typed and dynamic.
        var guid = new Guid("603840bf-cf91-4521-8b8e-8b6a2e75910a");
        var guids = store.GetCollection<Guid, Keyed<Guid>>("vd-guid", KeyedDefinition<Guid>());
        await guids.EnsureCollectionExistsAsync();
        await guids.UpsertAsync([new Keyed<Guid> { Key = guid, Int = 8, Vector = new float[] { 1, 0, 0, 0 } }, new Keyed<Guid> { Key = Guid.Empty, Int = 9, Vector = new float[] { 0, 1, 0, 0 } }]);
        Assert.Equal([(guid, 8), (Guid.Empty, 9)], (await guids.GetAsync([guid, Guid.Empty]).ToListAsync()).Select(r => (r.Key, r.Int)).OrderBy(r => r.Int));
        var dynamicGuids = store.GetDynamicCollection("vd-guid", KeyedDefinition<Guid>());
        Assert.Equal(guid, Assert.IsType<Guid>((await dynamicGuids.GetAsync(guid))!["Key"]));
        var longs = store.GetCollection<long, Keyed<long>>("vd-long", KeyedDefinition<long>());
        await longs.EnsureCollectionExistsAsync();
        await longs.UpsertAsync(new Keyed<long> { Key = 5_000_000_000, Int = 1, Vector = new float[] { 0, 0, 1, 0 } });
        Assert.Equal(1, (await longs.GetAsync(5_000_000_000))!.Int);
        Assert.Equal(5_000_000_000, (await longs.SearchAsync(new float[] { 0, 0, 1, 0 }, 1).FirstAsync()).Record.Key);
        var ints = store.GetDynamicCollection("vd-int", KeyedDefinition<int>());
        await ints.EnsureCollectionExistsAsync();
        await ints.UpsertAsync(new Dictionary<string, object?> { ["Key"] = 42, ["Int"] = 2, ["Vector"] = new ReadOnlyMemory<float>([0, 0, 0, 1]) });
        Assert.Equal(42, Assert.IsType<int>((await ints.GetAsync(42))!["Key"]));
        await guids.DeleteAsync([guid, Guid.Empty]);
        Assert.Empty(await guids.GetAsync([guid, Guid.Empty]).ToListAsync());

        // Generated where the model leaves it to the connector (null): a default key gets a new Guid, set on the record; a set key stays.
        var generated = store.GetCollection<Guid, Keyed<Guid>>("vd-guid", KeyedDefinition<Guid>(generated: null));
        var first = new Keyed<Guid> { Int = 1, Vector = new float[] { 1, 0, 0, 0 } };
        await generated.UpsertAsync(first);
        Assert.NotEqual(Guid.Empty, first.Key);
        var kept = first.Key;
        var (second, third) = (new Keyed<Guid> { Int = 2, Vector = new float[] { 0, 1, 0, 0 } }, new Keyed<Guid> { Key = guid, Int = 3, Vector = new float[] { 0, 0, 1, 0 } });
        first.Int = 99;
        await generated.UpsertAsync([first, second, third]);
        Assert.Equal(kept, first.Key);
        Assert.NotEqual(Guid.Empty, second.Key);
        Assert.NotEqual(kept, second.Key);
        Assert.Equal(guid, third.Key);
        Assert.Equal([(kept, 99), (second.Key, 2), (guid, 3)], (await generated.GetAsync([kept, second.Key, guid]).ToListAsync()).Select(r => (r.Key, r.Int)).OrderBy(r => r.Int == 99 ? 0 : r.Int));

        // What the model cannot be: a TKey that is not its key's type, generated integer keys, a key type ids cannot carry.
        Assert.Throws<InvalidOperationException>(() => store.GetCollection<Guid, Keyed<string>>("vd-guid", KeyedDefinition<string>()));
        Assert.Throws<NotSupportedException>(() => store.GetCollection<int, Keyed<int>>("vd-int", KeyedDefinition<int>(generated: true)));
        Assert.Throws<NotSupportedException>(() => store.GetCollection<double, Keyed<double>>("vd-double", KeyedDefinition<double>()));
    }

    /// <summary>Counts of a, b, c and anything else: text to a 4-dimensional vector, so tests can tell which text is nearest.</summary>
    internal sealed class LetterEmbeddings : IEmbeddingGenerator<string, Embedding<float>>
    {
        public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(new float[]
                { v.Count(c => c == 'a'), v.Count(c => c == 'b'), v.Count(c => c == 'c'), v.Count(c => c is not ('a' or 'b' or 'c')) + 0.01f }))));

        public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

        public void Dispose() { }
    }
}
