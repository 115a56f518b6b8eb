using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.VectorData.ProviderServices;
using RagCluster.Client;

namespace RagCluster.VectorData;

/// <summary>
/// What a RagCluster collection can hold of a record: a key (the document id: string, Guid, int or long), at most one vector (the
/// document's one chunk's; none makes a collection of 0 dimensions), data properties as tags (typed: strings, numbers, booleans, instants, string lists; at most 32, strings up
/// to 256 characters), and full-text properties: one is the chunk's text; several are the collection's declared text
/// fields, each with a BM25 index of its own (hybrid search names the one it matches).
/// </summary>
internal sealed class RagClusterModelBuilder() : CollectionModelBuilder(new CollectionModelBuildingOptions { RequiresAtLeastOneVector = false, SupportsMultipleVectors = false })
{
    private static readonly Type[] DataTypes =
        [typeof(string), typeof(bool), typeof(byte), typeof(short), typeof(int), typeof(long), typeof(float), typeof(double), typeof(decimal), typeof(DateTime),
         typeof(DateTimeOffset), typeof(DateOnly), typeof(TimeOnly), typeof(Guid)];

    protected override bool IsDataPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = "string, bool, byte, short, int, long, float, double, decimal, DateTime, DateTimeOffset, DateOnly, TimeOnly, Guid (or nullable), string[] or List<string>";
        // String lists are string[] tags: what an access field holds (each record's reader groups).
        return DataTypes.Contains(Nullable.GetUnderlyingType(type) ?? type) || type == typeof(string[]) || type == typeof(List<string>);
    }

    protected override bool IsVectorPropertyTypeValid(Type type, [NotNullWhen(false)] out string? supportedTypes)
    {
        supportedTypes = "ReadOnlyMemory<float>, float[], Embedding<float>";
        return (Nullable.GetUnderlyingType(type) ?? type) is var t && (t == typeof(ReadOnlyMemory<float>) || t == typeof(float[]) || t == typeof(Embedding<float>));
    }

    // The base takes a Guid key as generated unless the model says otherwise, and refuses generation for other types.
    protected override bool SupportsKeyAutoGeneration(Type keyPropertyType) => keyPropertyType == typeof(Guid);

    protected override void ValidateKeyProperty(KeyPropertyModel keyProperty)
    {
        base.ValidateKeyProperty(keyProperty); // a collection's TKey other than its key property's type: InvalidOperationException
        if (!RecordMapper.KeyTypes.Contains(keyProperty.Type))
            throw new NotSupportedException($"RagCluster keys are document ids: string, Guid, int or long; '{keyProperty.ModelName}' is {keyProperty.Type.Name}");
    }

    protected override void Validate(Type? type, VectorStoreCollectionDefinition? definition)
    {
        base.Validate(type, definition);
        // No vector property: a collection of 0 dimensions, its records found by key, filters and BM25.
        foreach (var vector in VectorProperties)
        {
            if (vector.DistanceFunction is { } distance && RecordMapper.CollectionDistance(distance) is null)
                throw new NotSupportedException($"RagCluster compares vectors by cosine, dot product or Euclidean distance (and the forms of each the abstraction names); '{vector.ModelName}' asks for {distance}");
            if (vector.IndexKind is { } kind && kind != IndexKind.Hnsw && kind != IndexKind.Flat)
                throw new NotSupportedException($"RagCluster searches vectors by an HNSW graph or flat (every vector compared); '{vector.ModelName}' asks for {kind}");
        }
        if (DataProperties.FirstOrDefault(p => p.IsFullTextIndexed && p.Type != typeof(string)) is { } notText)
            throw new NotSupportedException($"the full-text property '{notText.ModelName}' must be a string");
        var fullText = DataProperties.Count(p => p.IsFullTextIndexed);
        if (DataProperties.Count - (fullText == 1 ? 1 : 0) > 32)
            throw new NotSupportedException("RagCluster keeps at most 32 data properties besides a single full-text one (they are the document's tags)");
        if (DataProperties.FirstOrDefault(p => p.StorageName.Length is 0 or > 64) is { } longName)
            throw new NotSupportedException($"data property '{longName.ModelName}' needs a storage name of 1..64 characters");
    }
}

/// <summary>Maps records to RagCluster documents (one chunk each) and back, by the collection model.</summary>
internal sealed class RecordMapper(CollectionModel model)
{
    public CollectionModel Model { get; } = model;
    // Null for a record without one: its document's chunk has no vector, in a collection of 0 dimensions.
    private VectorPropertyModel? Vector => Model.VectorProperties.Count == 0 ? null : Model.VectorProperty;

    /// <summary>The collection's dimensions: the vector property's, or 0 (no vectors) for a record without one.</summary>
    public int Dimensions => Vector?.Dimensions ?? 0;
    // One full-text property is the chunk's text; several are text fields (tags the collection declares "text").
    private DataPropertyModel? Text { get; } = model.DataProperties.Count(p => p.IsFullTextIndexed) == 1 ? model.DataProperties.Single(p => p.IsFullTextIndexed) : null;

    /// <summary>The text fields the collection declares for several full-text properties (by storage name), or null for none.</summary>
    public Dictionary<string, string>? TextFields => Model.DataProperties.Count(p => p.IsFullTextIndexed) > 1
        ? Model.DataProperties.Where(p => p.IsFullTextIndexed).ToDictionary(p => p.StorageName, _ => "text", StringComparer.Ordinal)
        : null;

    /// <summary>Where hybrid search matches its keywords for a full-text property: null for the chunk's text, else the text field's name.</summary>
    public string? TextFieldOf(DataPropertyModel fullText) => fullText == Text ? null : fullText.StorageName;

    /// <summary>
    /// The collection's distance for the abstraction's function: the server scores cosine and dot product as similarities
    /// and l2 as minus the distance; the other forms (cosine distance, negative dot product, squared Euclidean) are
    /// the same comparison turned round by the collection. Null: not one RagCluster has.
    /// </summary>
    public static string? CollectionDistance(string? function) => function switch
    {
        null or DistanceFunction.CosineSimilarity or DistanceFunction.CosineDistance => "cosine",
        DistanceFunction.DotProductSimilarity or DistanceFunction.NegativeDotProductSimilarity => "dot",
        DistanceFunction.EuclideanDistance or DistanceFunction.EuclideanSquaredDistance => "l2",
        _ => null,
    };

    /// <summary>A vector search's score from the server's, in the model's function; and whether lower is nearer (a threshold is then a ceiling).</summary>
    public (double Score, bool LowerIsNearer) VectorScore(double server) => Model.VectorProperty.DistanceFunction switch
    {
        DistanceFunction.CosineDistance => (1 - server, true),
        DistanceFunction.NegativeDotProductSimilarity => (-server, true),
        DistanceFunction.EuclideanDistance => (-server, true),
        DistanceFunction.EuclideanSquaredDistance => (server * server, true),
        _ => (server, false),
    };

    /// <summary>The key types a document id carries: as themselves (string) or in their invariant text.</summary>
    public static readonly Type[] KeyTypes = [typeof(string), typeof(Guid), typeof(int), typeof(long)];

    public string Key(object record) => KeyText(Model.KeyProperty.GetValueAsObject(record)) is { Length: > 0 } key
        ? key
        : throw new ArgumentException($"the record's key '{Model.KeyProperty.ModelName}' is empty; RagCluster needs a document id");

    /// <summary>A key as its document id: Guids in their 36-character form, integers in invariant digits.</summary>
    public static string KeyText(object? key) => key switch
    {
        string s => s,
        Guid or int or long => Format(key), // Guid's default form is "D"
        null => "",
        _ => throw new NotSupportedException($"RagCluster keys are document ids: string, Guid, int or long, not {key.GetType().Name}"),
    };

    /// <summary>
    /// A Guid key left at its default in a collection whose keys are generated gets a new one, set on the record so the
    /// caller holds it (as the abstraction's other connectors do); a record whose key is set keeps it.
    /// </summary>
    public void GenerateKeys(IEnumerable<object> records)
    {
        if (!Model.KeyProperty.IsAutoGenerated) return;
        foreach (var record in records)
            if (Model.KeyProperty.GetValueAsObject(record) is not Guid key || key == Guid.Empty)
                Model.KeyProperty.SetValueAsObject(record, Guid.NewGuid());
    }

    /// <summary>The vector a record holds, or null when its vector property is an input to the embedding generator or it has none.</summary>
    public float[]? StoredVector(object record) => Vector?.GetValueAsObject(record) switch
    {
        ReadOnlyMemory<float> m => m.ToArray(),
        float[] a => a,
        Embedding<float> e => e.Vector.ToArray(),
        null when Vector is null => null,
        null => throw new ArgumentException($"the record '{Key(record)}' has no vector in '{Vector.ModelName}'"),
        _ => null,
    };

    public bool NeedsGeneration => Vector is { EmbeddingGenerator: not null } v && !IsVectorType(v.Type);

    public async Task<float[]> GenerateAsync(object input, CancellationToken ct) =>
        ((Embedding<float>)await Vector!.GenerateEmbeddingAsync(input, ct).ConfigureAwait(false)).Vector.ToArray();

    public async Task<float[][]> GenerateAllAsync(IReadOnlyList<object> records, CancellationToken ct) =>
        (await Vector!.GenerateEmbeddingsAsync(records.Select(r => Vector.GetValueAsObject(r)!), ct).ConfigureAwait(false))
        .Select(e => ((Embedding<float>)e).Vector.ToArray()).ToArray();

    public DocumentInput ToDocument(object record, float[]? vector)
    {
        var tags = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var p in Model.DataProperties.Where(p => p != Text))
            if (p.GetValueAsObject(record) is { } value)
            {
                var tag = TagValue(value)!;
                if (tag is string text && text.Length > 256 && !p.IsFullTextIndexed) throw new ArgumentException($"'{p.ModelName}' of record '{Key(record)}' is over 256 characters; RagCluster keeps data properties as tags (up to 256); mark a long text IsFullTextIndexed");
                tags[p.StorageName] = tag;
            }
        var chunkText = Text?.GetValueAsObject(record) as string ?? "";
        return new DocumentInput(Key(record)) { Tags = tags, Chunks = [new ChunkInput(chunkText) { VectorBase64 = vector is null ? null : RagClusterClient.VectorToBase64(vector) }] };
    }

    public TRecord ToRecord<TRecord>(DocumentContent document, bool includeVectors)
    {
        var record = Model.CreateRecord<TRecord>()!;
        Model.KeyProperty.SetValueAsObject(record, Parse(document.DocumentId, Model.KeyProperty.Type));
        var chunk = document.Chunks.FirstOrDefault();
        foreach (var p in Model.DataProperties)
        {
            if (p == Text) p.SetValueAsObject(record, chunk?.Text ?? "");
            else if (document.Tags.TryGetValue(p.StorageName, out var value)) p.SetValueAsObject(record, Read(value, p.Type));
            // A null value is stored as no tag: a dynamic record has the property, as null, as it was written.
            else if (!p.Type.IsValueType || Nullable.GetUnderlyingType(p.Type) is not null) p.SetValueAsObject(record, null);
        }
        if (includeVectors && chunk?.Vector is { } v && Vector is not null && IsVectorType(Vector.Type))
        {
            var t = Nullable.GetUnderlyingType(Vector.Type) ?? Vector.Type;
            Vector.SetValueAsObject(record, t == typeof(float[]) ? v : t == typeof(Embedding<float>) ? new Embedding<float>(v) : new ReadOnlyMemory<float>(v));
        }
        return record;
    }

    private static bool IsVectorType(Type type) => (Nullable.GetUnderlyingType(type) ?? type) is var t
        && (t == typeof(ReadOnlyMemory<float>) || t == typeof(float[]) || t == typeof(Embedding<float>));

    /// <summary>A tag's JSON value as the text <see cref="Format"/> gives (the server returns datetimes in UTC).</summary>
    public static string TagText(System.Text.Json.JsonElement value) =>
        value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString()! : value.GetRawText();

    /// <summary>
    /// A data value as a typed tag: strings, integers (as long), floats (as double), booleans, instants (an ISO 8601 string
    /// with its offset; a DateTime without a kind is taken as UTC), string collections as arrays; anything else as its text.
    /// </summary>
    public static object? TagValue(object? value) => value switch
    {
        null => null,
        string or bool or long => value,
        int or short or sbyte or byte or ushort or uint => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        float or double or decimal => Convert.ToDouble(value, CultureInfo.InvariantCulture),
        DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
        DateTime d => new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : d).ToString("O", CultureInfo.InvariantCulture),
        // A date as its midnight in UTC and a time of day as its ticks: typed tags that order and compare as the values do.
        DateOnly d => new DateTimeOffset(d.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture),
        TimeOnly t => t.Ticks,
        IEnumerable<string> items => items.ToArray(),
        _ => Format(value),
    };

    // A tag's JSON as the property's type; text (a tag stored before typed tags) parsed as it was then.
    private static object? Read(System.Text.Json.JsonElement value, Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (value.ValueKind == System.Text.Json.JsonValueKind.Array)
        {
            var items = value.EnumerateArray().Select(i => i.GetString()!).ToArray();
            return t == typeof(string[]) ? items : t.IsAssignableFrom(typeof(List<string>)) ? items.ToList() : Activator.CreateInstance(t, [items]);
        }
        if (t == typeof(DateTime) && value.ValueKind == System.Text.Json.JsonValueKind.String)
            return DateTimeOffset.Parse(value.GetString()!, CultureInfo.InvariantCulture).UtcDateTime;
        if (t == typeof(DateOnly) && value.ValueKind == System.Text.Json.JsonValueKind.String)
            return DateOnly.FromDateTime(DateTimeOffset.Parse(value.GetString()!, CultureInfo.InvariantCulture).UtcDateTime);
        if (t == typeof(TimeOnly) && value.ValueKind == System.Text.Json.JsonValueKind.Number)
            return new TimeOnly(value.GetInt64());
        return Parse(TagText(value), type);
    }

    /// <summary>A data value as its tag: invariant culture, round-trip forms.</summary>
    public static string Format(object value) => value switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        DateTimeOffset d => d.ToString("O", CultureInfo.InvariantCulture),
        DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static object? Parse(string value, Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(string)) return value;
        if (t == typeof(bool)) return value == "true";
        if (t == typeof(DateTimeOffset)) return DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        if (t == typeof(DateTime)) return DateTime.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        if (t == typeof(Guid)) return Guid.Parse(value);
        return Convert.ChangeType(value, t, CultureInfo.InvariantCulture);
    }
}
