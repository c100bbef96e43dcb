/**
 * Where the user-grant store keeps its wrapped data keys (shared/crypto/data-keys.ts): Firestore
 * documents `userGrantKeys/{dekId}` (`wrapped`: the KMS ciphertext as bytes, `createdAt`) and the
 * period pointers `userGrantKeyPeriods/{period}` (`dekId`). Unlike the shared cache's, these never
 * expire: a grant sealed years ago still names its DEK. Publishing a pointer is a create with
 * `currentDocument.exists=false`, so concurrent instances agree on one DEK per period.
 */
import type { WrappedKeyStore } from '../crypto/data-keys.js';
import { InternalError } from '../errors.js';
import type { FirestoreDocuments } from '../gcp/firestore-rest.js';
import { encodeFields, readBytes, readString } from '../gcp/firestore-values.js';

export const GRANT_KEYS_COLLECTION = 'userGrantKeys';
export const GRANT_KEY_PERIODS_COLLECTION = 'userGrantKeyPeriods';

export function firestoreWrappedKeys(documents: FirestoreDocuments, now: () => number): WrappedKeyStore {
  const pointer = (period: number): string => `${GRANT_KEY_PERIODS_COLLECTION}/p${period}`;
  const setPointer = (period: number, id: string, exists?: false) =>
    documents.patch(
      pointer(period),
      encodeFields({ dekId: id, createdAt: new Date(now()) }),
      ['dekId', 'createdAt'],
      exists === undefined ? undefined : { exists },
    );
  return {
    async getWrapped(id) {
      const doc = await documents.get(`${GRANT_KEYS_COLLECTION}/${id}`);
      return doc ? (readBytes(doc.fields, 'wrapped') ?? null) : null;
    },
    async putWrapped(id, wrapped) {
      const written = await documents.patch(
        `${GRANT_KEYS_COLLECTION}/${id}`,
        encodeFields({ wrapped, createdAt: new Date(now()) }),
        ['wrapped', 'createdAt'],
        // A fresh random id: an existing document under it would be a collision or an attack.
        { exists: false },
      );
      if (written === 'conflict')
        throw new InternalError('Internal error.', {
          reason: 'USER_GRANT_INTEGRITY',
          detail: 'a fresh data key id is already in use',
        });
    },
    async getCurrent(period) {
      const doc = await documents.get(pointer(period));
      return doc ? (readString(doc.fields, 'dekId') ?? null) : null;
    },
    async publishCurrent(period, id) {
      return (await setPointer(period, id, false)) !== 'conflict';
    },
    async replaceCurrent(period, id) {
      await setPointer(period, id);
    },
  };
}
