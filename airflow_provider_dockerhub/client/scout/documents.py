"""The GraphQL documents the provider sends to Docker Scout, by operation name.

They are validated against Scout's schema in the test suite (``shared/specs/docker-scout-schema.graphql``), and the
Scout emulator's schema subset is generated from ``DOCUMENTS``; nothing here needs the schema at run time.
"""

from __future__ import annotations

IMAGE_PACKAGES_QUERY = """
query ProviderImagePackages($context: Context!, $query: IpImagePackagesForImageCoordsQuery!) {
  imagePackagesForImageCoords(context: $context, query: $query) {
    digest
    hostName
    repoName
    sbomState
    imagePackages {
      packages {
        package {
          purl
          type
          name
          version
          licenses
          vulnerabilities {
            sourceId
            source
            cvss { severity score }
            fixedBy
            publishedAt
            cisaExploited
            isExcepted
            url
          }
        }
      }
    }
  }
}
"""

# Sent only when the packages query says a vulnerability is excepted: why it is, by whom, from which document.
# Scout's schema gives an exception no expiry (``PkVulnerabilityException``): it holds until it is removed.
IMAGE_EXCEPTIONS_QUERY = """
query ProviderImageExceptions($context: Context!, $query: IpImagePackagesForImageCoordsQuery!) {
  imagePackagesForImageCoords(context: $context, query: $query) {
    digest
    imagePackages {
      packages {
        package {
          purl
          vulnerabilities {
            sourceId
            isExcepted
            vulnerabilityExceptions {
              id
              author
              timestamp
              sourceType
              type
              justification
              documentUrl
              status
              additionalDetails
            }
          }
        }
      }
    }
  }
}
"""

IMAGE_SUMMARIES_QUERY = """
query ProviderImageSummaries($context: Context!, $digests: [String!]!, $repository: ScRepositoryInput) {
  imageSummariesByDigest(context: $context, digests: $digests, repository: $repository) {
    digest
    sbomState
    vulnerabilityReport { critical high medium low unspecified total }
  }
}
"""

BASE_IMAGE_QUERY = """
query ProviderBaseImage($context: Context!, $digest: String!, $platform: ImagePlatform!, $repository: String) {
  imageDetailsByDigest(context: $context, digest: $digest, platform: $platform, repository: $repository) {
    digest
    sbomState
    baseImage {
      digest
      repository { hostName repoName }
      tags { name current }
      vulnerabilityReport { critical high medium low }
    }
    baseImageTag { name current }
  }
}
"""

ORGANIZATION_STATUS_QUERY = """
query ProviderOrganizationStatus($context: Context!) {
  organizationStatus(context: $context) {
    hasImageAnalysisEnabled
    hasAnalyzedImages
  }
}
"""

# Whether Scout's image analysis is on for a repository: off means nothing pushed there is ever indexed.
REPOSITORY_FEATURES_QUERY = """
query ProviderRepositoryFeatures($context: Context!, $repoName: String!, $hostName: String) {
  repoFeatures(context: $context, repoName: $repoName, hostName: $hostName) {
    vulnerabilityReporting { enabled }
  }
}
"""

DOCUMENTS = {
    "ProviderImagePackages": IMAGE_PACKAGES_QUERY,
    "ProviderImageExceptions": IMAGE_EXCEPTIONS_QUERY,
    "ProviderImageSummaries": IMAGE_SUMMARIES_QUERY,
    "ProviderBaseImage": BASE_IMAGE_QUERY,
    "ProviderOrganizationStatus": ORGANIZATION_STATUS_QUERY,
    "ProviderRepositoryFeatures": REPOSITORY_FEATURES_QUERY,
}
