using RagCluster.Bench.Rag;

// RAG benchmarks, each printing JSON lines for bench/run_rag_bench.sh to tabulate:
//   ann DATA_DIR M EF_CONSTRUCTION EF1,EF2,... [THREADS]   HNSW shard vs the same data as hnswlib/faiss (and a THREADS-thread build)
//   embed MODEL_DIR SECONDS [cpu|cuda] [BATCHES] [MODEL_FILE] [session|host]   sentences/s through our encoder (ONNX Runtime NuGet), batch 1 and 32 (or BATCHES), 128 tokens
switch (args.FirstOrDefault())
{
    case "ann": // DATA_DIR M EF_CONSTRUCTION EFS [THREADS=1] [ENCODING=float32|int8]
        AnnBench.Run(args[1], int.Parse(args[2]), int.Parse(args[3]), args[4].Split(',').Select(int.Parse).ToArray(), args.Length > 5 ? int.Parse(args[5]) : 1,
            args.Length > 6 && args[6] == "int8" ? RagCluster.Grains.Vectors.VectorEncoding.Int8 : RagCluster.Grains.Vectors.VectorEncoding.Float32);
        return 0;
    case "embed":
        await EmbedBench.Run(args[1], double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args.Length > 3 ? args[3] : "cpu",
            args.Length > 4 ? args[4].Split(',').Select(int.Parse).ToArray() : null, args.Length > 5 ? args[5] : "model.onnx",
            poolInSession: !(args.Length > 6 && args[6] == "host"));
        return 0;
    case "compare": // BEIR_DIR DOCS QUERIES MODEL... : each model's vectors against the first's, on the corpus's chunks and queries (a folder or built-in name, int8:MODEL for int8 weights)
        EmbedBench.Compare(args[4..], args[1], int.Parse(args[2]), int.Parse(args[3]));
        return 0;
    case "query-encoder": // BEIR_DIR QUERIES THREADS MODEL... (a folder or built-in name, int8:MODEL for int8 weights): one query at a time, p50/p95 ms (issue 45, item 6)
        EmbedBench.QueryEncoder(args[4..], args[1], int.Parse(args[2]), int.Parse(args[3]));
        return 0;
    case "shapes": // MODEL_DIR BEIR_DIR DOCS BATCH MULTIPLES(1,32,64,128): chunks/s with sequence lengths padded to each multiple
        EmbedBench.Shapes(args[1], args[2], int.Parse(args[3]), int.Parse(args[4]), args[5].Split(',').Select(int.Parse).ToArray());
        return 0;
    case "e2e": // BIN_DIR MODEL_DIR BEIR_DIR SILOS DOCS SECONDS
        await EndToEndBench.Run(args[1], args[2], args[3], int.Parse(args[4]), int.Parse(args[5]), double.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture));
        return 0;
    case "ingest": // BIN_DIR MODEL_DIR BEIR_DIR DOCS(0 = all) SILOS(1,3) BATCHES(1,8,16,32,64)
        await IngestBench.Run(args[1], args[2], args[3], int.Parse(args[4]), args[5].Split(',').Select(int.Parse).ToArray(), args[6].Split(',').Select(int.Parse).ToArray());
        return 0;
    case "chunk-ids": // MODEL_DIR BEIR_DIR DOCS OUT_JSON: a default collection's model inputs for the corpus, for encoders side by side (issue 45, item 5)
        File.WriteAllText(args[4], System.Text.Json.JsonSerializer.Serialize(IngestBench.ChunkSequences(args[1], IngestBench.LoadCorpus(args[2], int.Parse(args[3]))).SelectMany(d => d)));
        return 0;
    case "embed-chunks": // MODEL_DIR BEIR_DIR DOCS [INTRA_OP_THREADS=0 (default)] [PAD_TO_MULTIPLE_OF=0 (by device)] [PASSAGE_WEIGHTS=float32|int8]: the same inputs through the silo's embedding service, chunks/s
    {
        var documents = IngestBench.ChunkSequences(args[1], IngestBench.LoadCorpus(args[2], int.Parse(args[3])));
        var intra = args.Length > 4 ? int.Parse(args[4]) : 0;
        var pad = args.Length > 5 ? int.Parse(args[5]) : 0;
        var weights = args.Length > 6 ? args[6] : "float32";
        var rate = IngestBench.ServiceRate(args[1], documents, intra, pad, weights);
        var options = new RagCluster.Grains.Embedding.EmbeddingOptions { IntraOpThreads = intra };
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new { lib = "ragcluster EmbeddingService", chunks = documents.Sum(d => d.Length), runners = options.EffectiveRunners, intra_op_threads = options.EffectiveIntraOpThreads, pad_to_multiple_of = pad, passage_weights = weights, chunks_per_s = rate }));
        return 0;
    }
    case "ingest-ceiling": // BIN_DIR TOKENIZER_DIR BEIR_DIR [DOCS=0 (all)] [SILOS=1]: the text pipeline with the hashing encoder, no inference (issue 34, item 5)
        await IngestBench.CeilingAsync(args[1], args[2], IngestBench.LoadCorpus(args[3], args.Length > 4 ? int.Parse(args[4]) : 0), args.Length > 5 ? int.Parse(args[5]) : 1);
        return 0;
    case "ingest-bm25": // BIN_DIR BEIR_DIR DOCS(0 = all) SILOS(1,3): no model; grain calls and PostgreSQL transactions per document
        await Bm25IngestBench.Run(args[1], args[2], int.Parse(args[3]), args[4].Split(',').Select(int.Parse).ToArray());
        return 0;
    case "ack": // BIN_DIR BEIR_DIR [SINGLES=500] [CLIENTS=8]: acknowledgement latency of single documents, and a corpus posted one per request (issue 34, item 1)
        await AckBench.Run(args[1], args[2], args.Length > 3 ? int.Parse(args[3]) : 500, args.Length > 4 ? int.Parse(args[4]) : 8);
        return 0;
    case "bulk-load": // BIN_DIR DATA_DIR(ann_data.py output) [QUANTIZATIONS=float32,int8] [BATCH=500] [IN_FLIGHT=4] [SHARDS=4] [api-only|both] [SILOS=1 (a list: 1,4)]: one-vector documents through the API beside the index alone (issue 34, items 2-4); SILOS > 1: the cluster recipe (API silo + SILOS-1 silos, PostgreSQL, Redis), item 6
        await BulkLoadBench.Run(args[1], args[2], (args.Length > 3 ? args[3] : "float32,int8").Split(','), args.Length > 4 ? int.Parse(args[4]) : 500,
            args.Length > 5 ? int.Parse(args[5]) : 4, args.Length > 6 ? int.Parse(args[6]) : 4, indexAlone: args.Length <= 7 || args[7] != "api-only",
            siloCounts: args.Length > 8 ? args[8].Split(',').Select(int.Parse).ToArray() : [1]);
        return 0;
    case "ann-data": // OUT_DIR [N=100000] [DIM=384] [Q=1000]: ann_data.py's files, written without numpy
        AnnData.Write(args[1], args.Length > 2 ? int.Parse(args[2]) : 100_000, args.Length > 3 ? int.Parse(args[3]) : 384, args.Length > 4 ? int.Parse(args[4]) : 1000);
        return 0;
    case "chroma": // BIN_DIR DATA_DIR(ann-data output) CHROMA_DIR(npm install chromadb there) [BATCH=1000] [IN_FLIGHT=4] [QUANTIZATIONS=float32,int8]: Chroma's server beside ours, same vectors and client (issue 59, item 2)
        await ChromaBench.Run(args[1], args[2], args[3], args.Length > 4 ? int.Parse(args[4]) : 1000, args.Length > 5 ? int.Parse(args[5]) : 4,
            (args.Length > 6 ? args[6] : "float32,int8").Split(','));
        return 0;
    case "filtered-links": // N [QUERIES=200] [SHARES=0.001,0.01,0.1,0.3,0.5] [EFS=64 (the first for every walk, the rest for the values' walks)] [ENCODING=float32|int8]: filtered walks with links per value on the index alone (issue 82)
        FilteredLinksBench.Run(int.Parse(args[1]), args.Length > 2 ? int.Parse(args[2]) : 200,
            (args.Length > 3 ? args[3] : "0.001,0.01,0.1,0.3,0.5").Split(',').Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            (args.Length > 4 ? args[4] : "64").Split(',').Select(int.Parse).ToArray(), args.Length > 5 && args[5] == "int8" ? RagCluster.Grains.Vectors.VectorEncoding.Int8 : RagCluster.Grains.Vectors.VectorEncoding.Float32);
        return 0;
    case "filtered-groups": // N [QUERIES=200] [GROUPS=1000] [READERS=1,10,100,300,500] [EF=64] [ENCODING]: access groups and ranges on the index alone (issue 82)
        FilteredLinksBench.Groups(int.Parse(args[1]), args.Length > 2 ? int.Parse(args[2]) : 200, args.Length > 3 ? int.Parse(args[3]) : 1000,
            (args.Length > 4 ? args[4] : "1,10,100,300,500").Split(',').Select(int.Parse).ToArray(), args.Length > 5 ? int.Parse(args[5]) : 64,
            args.Length > 6 && args[6] == "int8" ? RagCluster.Grains.Vectors.VectorEncoding.Int8 : RagCluster.Grains.Vectors.VectorEncoding.Float32);
        return 0;
    case "filtered": // DATA_DIR(ann_data.py output) [SELECTIVITIES=0.001,0.01,0.1] [EF=64] [QUERIES=200]: a selective filter, walked or scanned exactly (issue 35, item 3)
        FilteredBench.Run(args[1], (args.Length > 2 ? args[2] : "0.001,0.01,0.1").Split(',').Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray(),
            args.Length > 3 ? int.Parse(args[3]) : 64, args.Length > 4 ? int.Parse(args[4]) : 200);
        return 0;
    case "filtered-api": // BIN_DIR [VECTORS=100000] [SHARDS=2] [QUERIES=200] [EF=0 (default)] [--quantization int8] [--Section:Key value ...]: filters of 0.1-50 % selectivity through the API, recall@10 and p50 beside unfiltered (issue 58, item 3)
        await FilteredApiBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 100_000, args.Length > 3 ? int.Parse(args[3]) : 2,
            args.Length > 4 ? int.Parse(args[4]) : 200, args.Length > 5 && int.Parse(args[5]) > 0 ? int.Parse(args[5]) : null, args.Skip(6).ToArray());
        return 0;
    case "filtered-walks-api": // BIN_DIR [VECTORS=100000] [SHARDS=4] [QUERIES=200] [--quantization int8] [--no-links] [--Section:Key value ...]: access groups, keywords, ranges and an anti-correlated reader at 0.1..50 % beside the untrimmed search (issue 82, item 2)
        await FilteredWalkApiBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 100_000, args.Length > 3 ? int.Parse(args[3]) : 4,
            args.Length > 4 ? int.Parse(args[4]) : 200, args.Skip(5).ToArray());
        return 0;
    case "access-api": // BIN_DIR [VECTORS=100000] [SHARDS=2] [QUERIES=200] [--Section:Key value ...]: readers who see 1 % and 10 % of a collection with an access field, recall@10 and p50 beside the untrimmed operator (issue 72, item 1)
        await AccessApiBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 100_000, args.Length > 3 ? int.Parse(args[3]) : 2,
            args.Length > 4 ? int.Parse(args[4]) : 200, args.Skip(5).ToArray());
        return 0;
    case "registry-scale": // BIN_DIR SIZES(10000,100000): search latency as a collection of own vectors grows (issue 22, item 1)
        await RegistryScaleBench.Run(args[1], args[2].Split(',').Select(int.Parse).ToArray());
        return 0;
    case "copies": // BIN_DIR [SILOS=3] [VECTORS=100000] [SHARDS=4] [CLIENTS=8] [SECONDS=20]: search throughput and memory with 1..SILOS copies a shard (issue 46, item 4)
        await CopiesBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 3, args.Length > 3 ? int.Parse(args[3]) : 100_000, args.Length > 4 ? int.Parse(args[4]) : 4,
            args.Length > 5 ? int.Parse(args[5]) : 8, args.Length > 6 ? int.Parse(args[6]) : 20);
        return 0;
    case "failover": // BIN_DIR [VECTORS=200000] [SHARDS=6] [CLIENTS=4] [QUANTIZATION=int8]: kill -9 of each plain silo in turn under search load, 2 copies a shard (issue 60, item 1)
        await FailoverBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 200_000, args.Length > 3 ? int.Parse(args[3]) : 6,
            args.Length > 4 ? int.Parse(args[4]) : 4, args.Length > 5 ? args[5] : "int8");
        return 0;
    case "tls": // BIN_DIR [SILOS=3] [VECTORS=100000] [SHARDS=6] [CLIENTS=4] [SECONDS=20] [ROUNDS=2]: the cluster recipe in plain text, then with mutual TLS: bulk load and search p50/p99 (issue 60, item 3)
        await TlsBench.Run(args[1], args.Length > 2 ? int.Parse(args[2]) : 3, args.Length > 3 ? int.Parse(args[3]) : 100_000, args.Length > 4 ? int.Parse(args[4]) : 6,
            args.Length > 5 ? int.Parse(args[5]) : 4, args.Length > 6 ? int.Parse(args[6]) : 20, args.Length > 7 ? int.Parse(args[7]) : 2);
        return 0;
    case "scale": // BIN_DIR DATA_DIR(ann_data.py output) SILOS(1|3) [CHUNKS_PER_DOC=100] [SHARDS=4] [EFS=16,32,64,128,256] [RESHARD_TO=0] [QUANTIZATION=float32|int8] (issue 22, items 2, 3 and 5; issue 23, item 3)
        await ScaleBench.RunFromArgs(args);
        return 0;
    case "scaling": // BIN_DIR MODEL_DIR BEIR_DIR [SILOS=1,2,4] [CORES=3 a silo] [VECTORS=100000] [SHARDS=8] [DOCS=2000] [CLIENTS=32] [SECONDS=15]: search QPS and text ingest as API silos join the cluster recipe, each on cores of its own (issue 84, item 5)
        await ScalingBench.RunFromArgs(args);
        return 0;
    case "ids": // the 128-token input both embedding benchmarks feed, for the Node baseline
        Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(EmbedBench.Sequence(RagCluster.Grains.Text.WordPieceTokenizer.FromDirectory(args[1]), int.Parse(args[2]))));
        return 0;
    default:
        Console.Error.WriteLine("usage: RagCluster.Bench.Rag ann DATA_DIR M EFC EFS | embed MODEL_DIR SECONDS [cpu|cuda] [BATCHES] [MODEL_FILE] [session|host] | compare BEIR_DIR DOCS QUERIES MODEL_DIR... | shapes MODEL_DIR BEIR_DIR DOCS BATCH MULTIPLES | e2e BIN_DIR MODEL_DIR BEIR_DIR SILOS DOCS SECONDS | ingest BIN_DIR MODEL_DIR BEIR_DIR DOCS SILOS BATCHES | ingest-ceiling BIN_DIR TOKENIZER_DIR BEIR_DIR [DOCS] [SILOS] | ingest-bm25 BIN_DIR BEIR_DIR DOCS SILOS | ack BIN_DIR BEIR_DIR [SINGLES] [CLIENTS] | bulk-load BIN_DIR DATA_DIR [QUANTIZATIONS] [BATCH] [IN_FLIGHT] [SHARDS] [api-only|both] [SILOS] | filtered DATA_DIR [SELECTIVITIES] [EF] [QUERIES] | filtered-api BIN_DIR [VECTORS] [SHARDS] [QUERIES] [EF] | access-api BIN_DIR [VECTORS] [SHARDS] [QUERIES] | registry-scale BIN_DIR SIZES | scale BIN_DIR DATA_DIR SILOS [CHUNKS_PER_DOC] [SHARDS] [EFS] [RESHARD_TO] [QUANTIZATION] | copies BIN_DIR [SILOS] [VECTORS] [SHARDS] [CLIENTS] [SECONDS] | failover BIN_DIR [VECTORS] [SHARDS] [CLIENTS] [QUANTIZATION] | tls BIN_DIR [SILOS] [VECTORS] [SHARDS] [CLIENTS] [SECONDS] [ROUNDS] | ann-data OUT_DIR [N] [DIM] [Q] | chroma BIN_DIR DATA_DIR CHROMA_DIR [BATCH] [IN_FLIGHT] [QUANTIZATIONS] | scaling BIN_DIR MODEL_DIR BEIR_DIR [SILOS] [CORES] [VECTORS] [SHARDS] [DOCS] [CLIENTS] [SECONDS]");
        return 2;
}
