using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RagCluster.Grains.Diagnostics;
using RagCluster.Grains.Embedding.Onnx;
using RagCluster.Grains.Placement;
using RagCluster.Grains.Interfaces.Embedding;
using RagCluster.Grains.Interfaces.Security;
using RagCluster.Grains.Text;

namespace RagCluster.Grains.Embedding;

public enum EmbeddingKind { Query, Passage }
