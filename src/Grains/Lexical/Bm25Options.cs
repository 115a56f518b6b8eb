namespace RagCluster.Grains.Lexical;

public sealed class Bm25Options
{
    public float K1 { get; set; } = 1.2f;
    public float B { get; set; } = 0.75f;
}
