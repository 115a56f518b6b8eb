namespace RagCluster.Grains.Embedding;

public enum EmbeddingKind { Query, Passage }
