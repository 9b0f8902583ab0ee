// Glance's whole route table in one place (as glance/api/v2/router.py): every path of the
// images API v2, each mapped to a short handler of the api/ module named beside it.
import type { FastifyInstance } from 'fastify';
import type { ImageService } from '../service.ts';
import {
  listStores,
  listStoresDetail,
  listVersions,
  rootVersions,
  showImageSchema,
  showImagesSchema,
  showImportInfo,
  showMemberSchema,
  showMembersSchema,
  showUsage,
  v2Versions,
} from './discovery.ts';
import {
  addImageTag,
  createImage,
  deactivateImage,
  deleteImage,
  deleteImageTag,
  listImages,
  reactivateImage,
  showImage,
  updateImage,
} from './images.ts';
import { downloadImageData, importImage, listImageTasks, stageImageData, uploadImageData } from './data.ts';
import { createMember, deleteMember, listMembers, showMember, updateMember } from './members.ts';
import {
  createNamespace,
  createObject,
  createProperty,
  createResourceTypeAssociation,
  createTag,
  createTags,
  deleteNamespace,
  deleteObject,
  deleteObjects,
  deleteProperties,
  deleteProperty,
  deleteResourceTypeAssociation,
  deleteTag,
  deleteTags,
  listNamespaces,
  listObjects,
  listProperties,
  listResourceTypeAssociations,
  listResourceTypes,
  listTags,
  showMetadefSchema,
  showNamespace,
  showObject,
  showProperty,
  showTag,
  updateNamespace,
  updateObject,
  updateProperty,
  updateTag,
} from './metadefs.ts';
import { clearCache, deleteCachedImage, listCachedImages, queueImage } from './cache.ts';
import { createTask, deleteTask, listTasks, showTask, showTaskSchema, showTasksSchema } from './tasks.ts';

const P = '/v2/metadefs/namespaces';

export function registerRoutes(app: FastifyInstance, svc: ImageService) {
  // ---- versions, schemas and info (discovery.ts) ----
  app.get('/', { config: { auth: false } }, (req, reply) => rootVersions(svc, req, reply));
  app.get('/versions', { config: { auth: false }, exposeHeadRoute: true }, (req) => listVersions(svc, req));
  app.get('/v2', { config: { auth: false } }, (req, reply) => v2Versions(svc, req, reply));
  app.get('/v2/schemas/image', { config: { auth: 'optional' } }, (req) => showImageSchema(svc, req));
  app.get('/v2/schemas/images', { config: { auth: 'optional' } }, (req) => showImagesSchema(svc, req));
  app.get('/v2/schemas/member', { config: { auth: 'optional' } }, (req) => showMemberSchema(svc, req));
  app.get('/v2/schemas/members', { config: { auth: 'optional' } }, (req) => showMembersSchema(svc, req));
  app.get('/v2/info/import', (req) => showImportInfo(svc, req));
  app.get('/v2/info/stores', (req) => listStores(svc, req));
  app.get('/v2/info/stores/detail', (req) => listStoresDetail(svc, req));
  app.get('/v2/info/usage', (req) => showUsage(svc, req));

  // ---- images (images.ts) ----
  app.post('/v2/images', (req, reply) => createImage(svc, req, reply));
  app.get('/v2/images', (req) => listImages(svc, req));
  app.get<{ Params: { id: string } }>('/v2/images/:id', (req) => showImage(svc, req));
  app.patch<{ Params: { id: string } }>('/v2/images/:id', (req) => updateImage(svc, req));
  app.delete<{ Params: { id: string } }>('/v2/images/:id', (req, reply) => deleteImage(svc, req, reply));
  app.post<{ Params: { id: string } }>('/v2/images/:id/actions/deactivate', (req, reply) =>
    deactivateImage(svc, req, reply),
  );
  app.post<{ Params: { id: string } }>('/v2/images/:id/actions/reactivate', (req, reply) =>
    reactivateImage(svc, req, reply),
  );
  app.put<{ Params: { id: string; tag: string } }>('/v2/images/:id/tags/:tag', (req, reply) =>
    addImageTag(svc, req, reply),
  );
  app.delete<{ Params: { id: string; tag: string } }>('/v2/images/:id/tags/:tag', (req, reply) =>
    deleteImageTag(svc, req, reply),
  );

  // ---- image data: upload, download, stage, import (data.ts) ----
  app.get<{ Params: { id: string } }>('/v2/images/:id/tasks', (req) => listImageTasks(svc, req));
  app.put<{ Params: { id: string } }>('/v2/images/:id/file', (req, reply) => uploadImageData(svc, req, reply));
  app.get<{ Params: { id: string } }>('/v2/images/:id/file', (req, reply) => downloadImageData(svc, req, reply));
  app.put<{ Params: { id: string } }>('/v2/images/:id/stage', (req, reply) => stageImageData(svc, req, reply));
  app.post<{ Params: { id: string } }>('/v2/images/:id/import', (req, reply) => importImage(svc, req, reply));

  // ---- members (members.ts) ----
  app.post<{ Params: { id: string } }>('/v2/images/:id/members', (req) => createMember(svc, req));
  app.get<{ Params: { id: string } }>('/v2/images/:id/members', (req) => listMembers(svc, req));
  app.get<{ Params: { id: string; member: string } }>('/v2/images/:id/members/:member', (req) => showMember(svc, req));
  app.put<{ Params: { id: string; member: string } }>('/v2/images/:id/members/:member', (req) =>
    updateMember(svc, req),
  );
  app.delete<{ Params: { id: string; member: string } }>('/v2/images/:id/members/:member', (req, reply) =>
    deleteMember(svc, req, reply),
  );

  // ---- metadata definitions (metadefs.ts) ----
  app.get(P, (req) => listNamespaces(svc, req));
  app.post(P, (req, reply) => createNamespace(svc, req, reply));
  app.get<{ Params: { ns: string } }>(`${P}/:ns`, (req) => showNamespace(svc, req));
  app.put<{ Params: { ns: string } }>(`${P}/:ns`, (req) => updateNamespace(svc, req));
  app.delete<{ Params: { ns: string } }>(`${P}/:ns`, (req, reply) => deleteNamespace(svc, req, reply));
  app.get<{ Params: { ns: string } }>(`${P}/:ns/objects`, (req) => listObjects(svc, req));
  app.post<{ Params: { ns: string } }>(`${P}/:ns/objects`, (req, reply) => createObject(svc, req, reply));
  app.delete<{ Params: { ns: string } }>(`${P}/:ns/objects`, (req, reply) => deleteObjects(svc, req, reply));
  app.get<{ Params: { ns: string; name: string } }>(`${P}/:ns/objects/:name`, (req) => showObject(svc, req));
  app.put<{ Params: { ns: string; name: string } }>(`${P}/:ns/objects/:name`, (req) => updateObject(svc, req));
  app.delete<{ Params: { ns: string; name: string } }>(`${P}/:ns/objects/:name`, (req, reply) =>
    deleteObject(svc, req, reply),
  );
  app.get<{ Params: { ns: string } }>(`${P}/:ns/properties`, (req) => listProperties(svc, req));
  app.post<{ Params: { ns: string } }>(`${P}/:ns/properties`, (req, reply) => createProperty(svc, req, reply));
  app.delete<{ Params: { ns: string } }>(`${P}/:ns/properties`, (req, reply) => deleteProperties(svc, req, reply));
  app.get<{ Params: { ns: string; name: string } }>(`${P}/:ns/properties/:name`, (req) => showProperty(svc, req));
  app.put<{ Params: { ns: string; name: string } }>(`${P}/:ns/properties/:name`, (req) => updateProperty(svc, req));
  app.delete<{ Params: { ns: string; name: string } }>(`${P}/:ns/properties/:name`, (req, reply) =>
    deleteProperty(svc, req, reply),
  );
  app.get<{ Params: { ns: string } }>(`${P}/:ns/tags`, (req) => listTags(svc, req));
  app.post<{ Params: { ns: string } }>(`${P}/:ns/tags`, (req, reply) => createTags(svc, req, reply));
  app.delete<{ Params: { ns: string } }>(`${P}/:ns/tags`, (req, reply) => deleteTags(svc, req, reply));
  app.get<{ Params: { ns: string; name: string } }>(`${P}/:ns/tags/:name`, (req) => showTag(svc, req));
  app.post<{ Params: { ns: string; name: string } }>(`${P}/:ns/tags/:name`, (req, reply) => createTag(svc, req, reply));
  app.put<{ Params: { ns: string; name: string } }>(`${P}/:ns/tags/:name`, (req) => updateTag(svc, req));
  app.delete<{ Params: { ns: string; name: string } }>(`${P}/:ns/tags/:name`, (req, reply) =>
    deleteTag(svc, req, reply),
  );
  app.get('/v2/metadefs/resource_types', (req) => listResourceTypes(svc, req));
  app.get<{ Params: { ns: string } }>(`${P}/:ns/resource_types`, (req) => listResourceTypeAssociations(svc, req));
  app.post<{ Params: { ns: string } }>(`${P}/:ns/resource_types`, (req, reply) =>
    createResourceTypeAssociation(svc, req, reply),
  );
  app.delete<{ Params: { ns: string; name: string } }>(`${P}/:ns/resource_types/:name`, (req, reply) =>
    deleteResourceTypeAssociation(svc, req, reply),
  );
  app.get<{ Params: { kind: string } }>('/v2/schemas/metadefs/:kind', { config: { auth: 'optional' } }, (req) =>
    showMetadefSchema(svc, req),
  );

  // ---- the image cache, 2.14+ (cache.ts) ----
  app.get('/v2/cache', (req) => listCachedImages(svc, req));
  app.delete('/v2/cache', (req, reply) => clearCache(svc, req, reply));
  app.put<{ Params: { id: string } }>('/v2/cache/:id', (req, reply) => queueImage(svc, req, reply));
  app.delete<{ Params: { id: string } }>('/v2/cache/:id', (req, reply) => deleteCachedImage(svc, req, reply));

  // ---- tasks (tasks.ts) ----
  app.get('/v2/schemas/task', { config: { auth: 'optional' } }, (req) => showTaskSchema(svc, req));
  app.get('/v2/schemas/tasks', { config: { auth: 'optional' } }, (req) => showTasksSchema(svc, req));
  app.post('/v2/tasks', (req, reply) => createTask(svc, req, reply));
  app.get<{ Params: { id: string } }>('/v2/tasks/:id', (req) => showTask(svc, req));
  app.delete<{ Params: { id: string } }>('/v2/tasks/:id', (req) => deleteTask(svc, req));
  app.get('/v2/tasks', (req) => listTasks(svc, req));
}
