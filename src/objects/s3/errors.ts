/**
 * S3 wire errors. Every failure that leaves the S3 edge is one of these codes
 * with the status the Amazon S3 API Reference gives it; `toS3Error` is the one
 * place that maps domain (`YunError`) and unexpected errors to S3 codes.
 */
import { isYunError } from '../../core/errors.ts';

export const S3Codes = {
  AccessDenied: [403, 'Access Denied'],
  AccountProblem: [403, 'There is a problem with your account.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadDigest: [400, 'The Content-MD5 or checksum value that you specified did not match what the server received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed size'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidBucketState: [409, 'The request is not valid with the current state of the bucket.'],
  InvalidDigest: [400, 'The Content-MD5 you specified is not valid.'],
  InvalidEncryptionAlgorithmError: [400, 'The encryption request you specified is not valid. The valid value is AES256.'],
  InvalidLocationConstraint: [400, 'The specified location-constraint is not valid'],
  InvalidObjectState: [403, 'The operation is not valid for the current state of the object.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'],
  InvalidPartNumber: [416, 'The requested partnumber is not satisfiable'],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidStorageClass: [400, 'The storage class you specified is not valid'],
  InvalidTag: [400, 'The TagValue you have provided is invalid'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, 'Your key is too long'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedPolicy: [400, 'Policies must be valid JSON and the first byte must be \'{\''],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchLifecycleConfiguration: [404, 'The lifecycle configuration does not exist'],
  NoSuchTagSet: [404, 'The TagSet does not exist'],
  NoSuchUpload: [404, 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NotImplemented: [501, 'A header you provided implies functionality that is not implemented'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold'],
  QuotaExceeded: [403, 'The bucket quota or project storage quota would be exceeded.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  ServerSideEncryptionConfigurationNotFoundError: [404, 'The server side encryption configuration was not found'],
  ServiceUnavailable: [503, 'Reduce your request rate.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  InsufficientStorage: [507, 'Insufficient storage to complete the request.'],
  TooManyBuckets: [400, 'You have attempted to create more buckets than allowed'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
  InvalidChunkSizeError: [403, 'Only the last chunk is allowed to have a size less than 8192 bytes'],
  NoSuchObjectLockConfiguration: [404, 'The specified object does not have a ObjectLock configuration'],
  UnexpectedContent: [400, 'This request does not support content'],
  IllegalVersioningConfigurationException: [400, 'The versioning configuration specified in the request is invalid.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  NotModified: [304, 'Not Modified'],
} as const satisfies Record<string, readonly [number, string]>;

export type S3Code = keyof typeof S3Codes;

export class S3Error extends Error {
  readonly code: S3Code;
  readonly status: number;
  /** Extra elements written into the <Error> document (e.g. BucketName, Key). */
  readonly extra: Record<string, string>;
  /** Extra response headers (e.g. x-amz-delete-marker on a NoSuchKey for a delete marker). */
  readonly headers: Record<string, string>;

  constructor(code: S3Code, message?: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(message ?? S3Codes[code][1]);
    this.name = 'S3Error';
    this.code = code;
    this.status = S3Codes[code][0];
    this.extra = extra;
    this.headers = headers;
  }
}

export const s3err = (code: S3Code, message?: string, extra?: Record<string, string>) => new S3Error(code, message, extra);

/** Maps any thrown value to an S3Error: the one mapping from domain errors to S3 codes. */
export function toS3Error(e: unknown): S3Error {
  if (e instanceof S3Error) return e;
  if (isYunError(e)) {
    switch (e.code) {
      case 'QuotaExceeded': return new S3Error('QuotaExceeded', e.message);
      case 'Forbidden': case 'Unauthenticated': case 'TokenExpired': return new S3Error('AccessDenied');
      case 'ValidationFailed': return new S3Error('InvalidArgument', e.message);
      case 'Unavailable': case 'TooManyRequests': return new S3Error('ServiceUnavailable');
      default: return new S3Error('InternalError');
    }
  }
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new S3Error('InsufficientStorage');
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return new S3Error('IncompleteBody');
  return new S3Error('InternalError');
}
