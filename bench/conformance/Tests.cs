using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.VectorData;
using RagCluster.VectorData;
using VectorData.ConformanceTests;
using VectorData.ConformanceTests.ModelTests;
using VectorData.ConformanceTests.Support;
using VectorData.ConformanceTests.TypeTests;
using Xunit;

namespace RagCluster.ConformanceTests;

// Each of the suite's classes as written: string keys, the fixtures on RagClusterTestStore, no test overridden.

public class RagClusterCollectionManagementTests(RagClusterCollectionManagementTests.StoreFixture fixture)
    : CollectionManagementTests<string>(fixture), IClassFixture<RagClusterCollectionManagementTests.StoreFixture>
{
    public class StoreFixture : VectorStoreFixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterDistanceFunctionTests(RagClusterDistanceFunctionTests.Fixture f) : DistanceFunctionTests<string>(f), IClassFixture<RagClusterDistanceFunctionTests.Fixture>
{
    public new class Fixture : DistanceFunctionTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterFilterTests(RagClusterFilterTests.Fixture f) : FilterTests<string>(f), IClassFixture<RagClusterFilterTests.Fixture>
{
    public new class Fixture : FilterTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterHybridSearchTests(RagClusterHybridSearchTests.VectorAndStringFixture v, RagClusterHybridSearchTests.MultiTextFixture m)
    : HybridSearchTests<string>(v, m), IClassFixture<RagClusterHybridSearchTests.VectorAndStringFixture>, IClassFixture<RagClusterHybridSearchTests.MultiTextFixture>
{
    public new class VectorAndStringFixture : HybridSearchTests<string>.VectorAndStringFixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
    public new class MultiTextFixture : HybridSearchTests<string>.MultiTextFixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterIndexKindTests(RagClusterIndexKindTests.Fixture f) : IndexKindTests<string>(f), IClassFixture<RagClusterIndexKindTests.Fixture>
{
    public new class Fixture : IndexKindTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterBasicModelTests(RagClusterBasicModelTests.Fixture f) : BasicModelTests<string>(f), IClassFixture<RagClusterBasicModelTests.Fixture>
{
    public new class Fixture : BasicModelTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterDynamicModelTests(RagClusterDynamicModelTests.Fixture f) : DynamicModelTests<string>(f), IClassFixture<RagClusterDynamicModelTests.Fixture>
{
    public new class Fixture : DynamicModelTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterMultiVectorModelTests(RagClusterMultiVectorModelTests.Fixture f) : MultiVectorModelTests<string>(f), IClassFixture<RagClusterMultiVectorModelTests.Fixture>
{
    public new class Fixture : MultiVectorModelTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterNoDataModelTests(RagClusterNoDataModelTests.Fixture f) : NoDataModelTests<string>(f), IClassFixture<RagClusterNoDataModelTests.Fixture>
{
    public new class Fixture : NoDataModelTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterNoVectorModelTests(RagClusterNoVectorModelTests.Fixture f) : NoVectorModelTests<string>(f), IClassFixture<RagClusterNoVectorModelTests.Fixture>
{
    public new class Fixture : NoVectorModelTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterDataTypeTests(RagClusterDataTypeTests.Fixture f)
    : DataTypeTests<string, DataTypeTests<string>.DefaultRecord>(f), IClassFixture<RagClusterDataTypeTests.Fixture>
{
    public new class Fixture : DataTypeTests<string, DataTypeTests<string>.DefaultRecord>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterEmbeddingTypeTests(RagClusterEmbeddingTypeTests.Fixture f) : EmbeddingTypeTests<string>(f), IClassFixture<RagClusterEmbeddingTypeTests.Fixture>
{
    public new class Fixture : EmbeddingTypeTests<string>.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterKeyTypeTests(RagClusterKeyTypeTests.Fixture f) : KeyTypeTests(f), IClassFixture<RagClusterKeyTypeTests.Fixture>
{
    public new class Fixture : KeyTypeTests.Fixture { public override TestStore TestStore => RagClusterTestStore.Instance; }
}

public class RagClusterEmbeddingGenerationTests(RagClusterEmbeddingGenerationTests.StringVectorFixture s, RagClusterEmbeddingGenerationTests.RomOfFloatVectorFixture r)
    : EmbeddingGenerationTests<string>(s, r), IClassFixture<RagClusterEmbeddingGenerationTests.StringVectorFixture>, IClassFixture<RagClusterEmbeddingGenerationTests.RomOfFloatVectorFixture>
{
    private static Func<IServiceCollection, IServiceCollection> Store => services => services.AddRagClusterVectorStore(RagClusterTestStore.Instance.Url, RagClusterTestStore.Key);

    public new class StringVectorFixture : EmbeddingGenerationTests<string>.StringVectorFixture
    {
        public override TestStore TestStore => RagClusterTestStore.Instance;
        public override VectorStore CreateVectorStore(IEmbeddingGenerator? embeddingGenerator = null) => RagClusterTestStore.Instance.NewStore(embeddingGenerator);
        public override Func<IServiceCollection, IServiceCollection>[] DependencyInjectionStoreRegistrationDelegates => [Store];
        public override Func<IServiceCollection, IServiceCollection>[] DependencyInjectionCollectionRegistrationDelegates =>
            [services => services.AddRagClusterCollection<string, RecordWithAttributes>(CollectionName, RagClusterTestStore.Instance.Url, RagClusterTestStore.Key)];
    }

    public new class RomOfFloatVectorFixture : EmbeddingGenerationTests<string>.RomOfFloatVectorFixture
    {
        public override TestStore TestStore => RagClusterTestStore.Instance;
        public override VectorStore CreateVectorStore(IEmbeddingGenerator? embeddingGenerator = null) => RagClusterTestStore.Instance.NewStore(embeddingGenerator);
        public override Func<IServiceCollection, IServiceCollection>[] DependencyInjectionStoreRegistrationDelegates => [Store];
        public override Func<IServiceCollection, IServiceCollection>[] DependencyInjectionCollectionRegistrationDelegates =>
            [services => services.AddRagClusterCollection<string, RecordWithRomOfFloatVectorProperty>(CollectionName, RagClusterTestStore.Instance.Url, RagClusterTestStore.Key)];
    }
}

public class RagClusterDependencyInjectionTests
    : DependencyInjectionTests<RagClusterVectorStore, RagClusterCollection<string, DependencyInjectionTests<string>.Record>, string, DependencyInjectionTests<string>.Record>
{
    protected override void PopulateConfiguration(ConfigurationManager configuration, object? serviceKey = null) { }

    public override IEnumerable<Func<IServiceCollection, object?, string, ServiceLifetime, IServiceCollection>> CollectionDelegates =>
        [(services, key, name, lifetime) => services.AddKeyedRagClusterCollection<string, Record>(key, name, RagClusterTestStore.Instance.Url, RagClusterTestStore.Key, lifetime: lifetime)];

    public override IEnumerable<Func<IServiceCollection, object?, ServiceLifetime, IServiceCollection>> StoreDelegates =>
        [(services, key, lifetime) => services.AddKeyedRagClusterVectorStore(key, RagClusterTestStore.Instance.Url, RagClusterTestStore.Key, lifetime: lifetime)];
}
