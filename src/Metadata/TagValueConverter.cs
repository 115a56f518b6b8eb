namespace RagCluster.Metadata;

/// <summary>A <see cref="TagValue"/> on the wire as its stored form, which round-trips every kind (floats with "R").</summary>
[GenerateSerializer, Immutable, Alias("rc.TagValue")]
public readonly record struct TagValueSurrogate([property: Id(0)] string Stored);

/// <summary>Lets filters cross grain calls as terms (their literals are tag values), parsed once where they enter.</summary>
[RegisterConverter]
public sealed class TagValueConverter : IConverter<TagValue, TagValueSurrogate>
{
    public TagValue ConvertFromSurrogate(in TagValueSurrogate surrogate) => TagValue.FromStored(surrogate.Stored);

    public TagValueSurrogate ConvertToSurrogate(in TagValue value) => new(value.ToStored());
}
